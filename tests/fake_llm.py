"""A local OpenAI-compatible Chat Completions endpoint: the one fake model of the test suite.

Only the remote model is faked; the code under test talks to it through the real `openai`
backend over HTTP. Each request gets a `Reply`: the next queued one (`FakeLlm.reply`), else
the one for a marker word in the question (`FakeLlm.behave`), else the standing default.
Queued replies are sent as they are; otherwise a request that offers tools and has no tool
result yet first gets a search_library call for its question, as AGENTIC expects. `hold()`
keeps answers in flight until `release()`, so "simultaneous" requests really overlap.
"""

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "The device answers on the bus at its documented address [1]. It needs no extra setup [1]."
HOLD_LIMIT_S = 120  # a held answer goes on by itself after this, so a forgotten release() cannot hang a run


@dataclass(frozen=True)
class Reply:
    """How the fake model answers one request."""

    text: str = ANSWER  # streamed word by word
    slices: int = 0  # more than 0: `text` in that many equal slices instead, cutting words and [n] markers
    tool_call: tuple[str, dict[str, Any]] | None = None  # (tool name, arguments) instead of text
    status: int = 200  # anything else answers with that status and an error body, before streaming
    delay_s: float = 0.0  # before the response starts (a hang when longer than the client's timeout)
    token_delay_s: float = 0.0  # after each streamed piece
    drop_after: int | None = None  # break the connection after this many pieces, with no end of body
    held_after: int = 0  # pieces streamed before a held fake waits for release(); 0 waits before the response

    def pieces(self) -> list[str]:
        if self.slices:
            size = max(1, len(self.text) // self.slices)
            return [self.text[start : start + size] for start in range(0, len(self.text), size)]
        words = self.text.split(" ")
        return [word + (" " if index < len(words) - 1 else "") for index, word in enumerate(words)]


def slow(answer_s: float, words: int = 10) -> Reply:
    """An answer of `words` words streamed over about `answer_s` seconds."""
    return Reply(text=" ".join(f"word{index}" for index in range(words)), token_delay_s=answer_s / words)


class FakeLlm:
    """Start it with `with FakeLlm(default) as fake:`; `fake.base_url` is the LLM_BASE_URL to use."""

    def __init__(self, default: Reply | None = None) -> None:
        self._own_default = default or Reply()
        self.default = self._own_default
        self.by_marker: dict[str, Reply] = {}
        self.queued: list[Reply] = []
        self.requests: list[dict[str, Any]] = []  # every request body, in arrival order
        self.held = 0  # requests waiting for release() right now
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # chunked bodies, so a dropped connection is a broken answer

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def do_POST(self) -> None:  # the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                fake._answer(self, json.loads(self.rfile.read(length) or b"{}"))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True  # a sleeping or held answer never blocks shutdown

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "FakeLlm":
        threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._open.set()
        self._server.shutdown()
        self._server.server_close()

    def reply(self, *replies: Reply) -> None:
        """The next requests get these replies, in order, before any standing behaviour."""
        with self._lock:
            self.queued.extend(replies)

    def behave(self, default: Reply | None = None, **by_marker: Reply) -> None:
        """Answer questions containing a marker word with its reply, every other one with `default`
        (the fake's own default when None)."""
        with self._lock:
            self.default = default or self._own_default
            self.by_marker = dict(by_marker)

    def reset(self) -> None:
        """Back to how the fake started: its own default, nothing queued, answers not held."""
        self.behave()
        with self._lock:
            self.queued.clear()
        self.release()

    def hold(self) -> None:
        """Keep every answer in flight at its `held_after` point until release()."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_for_held(self, count: int, timeout: float = 60) -> None:
        """Block until `count` requests are waiting for release()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.held >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.held} requests reached the model, expected {count}")

    def _reply_for(self, body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or []
        asked = [str(message.get("content") or "") for message in messages if message.get("role") == "user"]
        with self._lock:
            self.requests.append(body)
            if self.queued:
                return self.queued.pop(0)
            question = " ".join(asked)
            reply = next((r for marker, r in self.by_marker.items() if marker in question), self.default)
        searched = any(message.get("role") == "tool" for message in messages)
        if reply.status == 200 and body.get("tools") and not searched:
            return Reply(tool_call=("search_library", {"query": asked[-1] if asked else ""}), delay_s=reply.delay_s)
        return reply

    def _wait_if_held(self) -> None:
        with self._lock:
            self.held += 1
        try:
            self._open.wait(timeout=HOLD_LIMIT_S)
        finally:
            with self._lock:
                self.held -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        reply = self._reply_for(body)
        time.sleep(reply.delay_s)
        streams_text = reply.status == 200 and reply.tool_call is None
        if not (streams_text and reply.held_after):
            self._wait_if_held()  # errors and tool calls always wait before the response
        try:
            if reply.status != 200:
                _send_error(handler, reply.status)
                return
            stream = _Stream(handler)
            if reply.tool_call is not None:
                stream.tool_call(*reply.tool_call)
                stream.end("tool_calls")
                return
            stream.delta({"role": "assistant", "content": ""})
            for sent, piece in enumerate(reply.pieces(), start=1):
                stream.delta({"content": piece})
                time.sleep(reply.token_delay_s)
                if sent == reply.held_after:
                    self._wait_if_held()
                if sent == reply.drop_after:
                    stream.drop()
                    return
            stream.end("stop")
        except ConnectionError:  # broken pipe, reset
            pass  # the code under test gave up on this answer


def _send_error(handler: BaseHTTPRequestHandler, status: int) -> None:
    payload = json.dumps({"error": {"message": "fake failure", "type": "server_error"}}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(payload)
    handler.wfile.flush()


class _Stream:
    """A Server-Sent Events body of chat.completion.chunk objects, sent as HTTP/1.1 chunks."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self.handler = handler
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Connection", "close")
        handler.end_headers()

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> None:
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        self._send(f"data: {json.dumps(chunk)}\n\n".encode())

    def tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        """The call in two chunks, its arguments cut in half, as real models stream them."""
        encoded = json.dumps(arguments)
        half = len(encoded) // 2
        call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": name, "arguments": encoded[:half]}}
        self.delta({"role": "assistant", "tool_calls": [call]})
        self.delta({"tool_calls": [{"index": 0, "function": {"arguments": encoded[half:]}}]})

    def end(self, finish_reason: str) -> None:
        self.delta({}, finish_reason)
        self._send(b"data: [DONE]\n\n")
        self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()

    def drop(self) -> None:
        """Break the connection mid-answer: the client sees a body that never ends properly."""
        self.handler.wfile.flush()
        self.handler.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, data: bytes) -> None:
        self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.handler.wfile.flush()
