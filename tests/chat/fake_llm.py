"""A local OpenAI-compatible Chat Completions endpoint for live-server tests.

Server processes started by a test use it through LLM_BACKEND=openai. The test steers it:
close `gate` to hold every answer in flight (so "simultaneous" requests really overlap),
requests that offer tools get one search_library call first (AGENTIC), then the answer;
set `failure` to make it fail ("status": HTTP 500 before streaming; "drop": the connection
breaks after the first piece of the answer).
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "The device answers on the bus at its documented address [1]. It needs no extra setup [1]."


class FakeLlm:
    def __init__(self, answer: str = ANSWER) -> None:
        self.answer = answer
        self.gate = threading.Event()
        self.gate.set()
        self.failure: str | None = None
        self.started = 0  # completion requests received
        self.waiting = 0  # requests currently held at the gate
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake._serve(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "FakeLlm":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for_waiting(self, count: int, timeout: float = 60) -> None:
        """Block until `count` requests are held at the closed gate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.waiting >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.waiting} requests reached the model, expected {count}")

    def _serve(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        with self._lock:
            self.started += 1
            self.waiting += 1
        try:
            self.gate.wait(timeout=120)
        finally:
            with self._lock:
                self.waiting -= 1
        if self.failure == "status":
            payload = json.dumps({"error": {"message": "model overloaded", "type": "server_error"}}).encode()
            handler.send_response(500)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        messages = body.get("messages") or []
        if body.get("tools") and not any(message.get("role") == "tool" for message in messages):
            # AGENTIC: search first, answer once the tool's result is in the conversation.
            question = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
            call = {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "search_library", "arguments": json.dumps({"query": question})},
            }
            self._chunk(handler, _sse({"tool_calls": [call]}))
            self._chunk(handler, _sse({}, finish="tool_calls"))
            self._chunk(handler, b"data: [DONE]\n\n")
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
            return
        words = self.answer.split(" ")
        for index, word in enumerate(words):
            piece = word + (" " if index < len(words) - 1 else "")
            self._chunk(handler, _sse({"content": piece}))
            if self.failure == "drop" and index == 2:
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)  # mid-answer, no end of body
                return
        self._chunk(handler, _sse({}, finish="stop"))
        self._chunk(handler, b"data: [DONE]\n\n")
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    @staticmethod
    def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()


def _sse(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()
