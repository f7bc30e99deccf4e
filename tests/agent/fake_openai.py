"""A local OpenAI-compatible Chat Completions server for tests: it replays queued replies."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOpenAi:
    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    def reply_text(self, text: str, pieces: int = 4) -> None:
        self.replies.append({"kind": "text", "text": text, "pieces": pieces})

    def reply_tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        self.replies.append({"kind": "tool", "name": name, "arguments": json.dumps(arguments)})

    def reply_status(self, status: int) -> None:
        self.replies.append({"kind": "status", "status": status})

    def reply_slowly(self, seconds: float) -> None:
        self.replies.append({"kind": "sleep", "seconds": seconds})


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


@contextmanager
def fake_openai_server() -> Iterator[FakeOpenAi]:
    fake = FakeOpenAi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            fake.requests.append(json.loads(self.rfile.read(length) or b"{}"))
            reply = fake.replies.pop(0) if fake.replies else {"kind": "status", "status": 500}
            if reply["kind"] == "sleep":
                time.sleep(reply["seconds"])
                reply = {"kind": "text", "text": "too late", "pieces": 1}
            if reply["kind"] == "status":
                payload = json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode()
                self.send_response(reply["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                if reply["kind"] == "text":
                    text, pieces = reply["text"], reply["pieces"]
                    size = max(1, len(text) // pieces)
                    self.wfile.write(_chunk({"role": "assistant", "content": ""}))
                    for start in range(0, len(text), size):
                        self.wfile.write(_chunk({"content": text[start : start + size]}))
                        self.wfile.flush()
                    self.wfile.write(_chunk({}, "stop"))
                else:
                    arguments = reply["arguments"]
                    half = len(arguments) // 2
                    first = {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": reply["name"], "arguments": arguments[:half]},
                    }
                    self.wfile.write(_chunk({"role": "assistant", "tool_calls": [first]}))
                    self.wfile.write(
                        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]})
                    )
                    self.wfile.write(_chunk({}, "tool_calls"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
