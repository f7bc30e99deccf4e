"""A local OpenAI-compatible Chat Completions endpoint for the hardening tests.

Only the remote LLM is faked: the server under test talks to it through the real `openai`
backend over HTTP. How it answers is set per test (`FakeLlm.behave`) and can differ by a
marker word in the question, so one server can answer some questions slowly and others fast.
"""

import json
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Behaviour:
    status: int = 200  # anything but 200 answers with that status and an error body
    delay_s: float = 0.0  # before the response headers (a hang when longer than the client's timeout)
    token_delay_s: float = 0.0  # between streamed words
    answer: str = "The supply voltage is 1.8 V to 3.6 V."


@dataclass
class FakeLlm:
    url: str = ""
    default: Behaviour = field(default_factory=Behaviour)
    by_marker: dict[str, Behaviour] = field(default_factory=dict)
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def behave(self, default: Behaviour | None = None, **by_marker: Behaviour) -> None:
        """Answer questions containing a marker word with its behaviour, every other one with `default`."""
        with self._lock:
            self.default = default or Behaviour()
            self.by_marker = dict(by_marker)

    def behaviour_for(self, body: dict[str, Any]) -> Behaviour:
        question = " ".join(
            str(message.get("content") or "") for message in body.get("messages", []) if message.get("role") == "user"
        )
        with self._lock:
            self.requests += 1
            for marker, behaviour in self.by_marker.items():
                if marker in question:
                    return behaviour
            return self.default

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def start_fake_llm() -> FakeLlm:
    fake = FakeLlm()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep the test output clean
            pass

        def do_POST(self) -> None:  # the stdlib's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            behaviour = fake.behaviour_for(body)
            time.sleep(behaviour.delay_s)
            if behaviour.status != 200:
                payload = json.dumps({"error": {"message": "fake failure", "type": "server_error"}}).encode()
                self.send_response(behaviour.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            words = behaviour.answer.split(" ")
            try:
                for index, word in enumerate(words):
                    piece = word + (" " if index < len(words) - 1 else "")
                    self._chunk({"content": piece}, None)
                    time.sleep(behaviour.token_delay_s)
                self._chunk({}, "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server under test gave up on this answer
            self.close_connection = True

        def _chunk(self, delta: dict[str, Any], finish_reason: str | None) -> None:
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": "fake",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake._server = server
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    threading.Thread(target=server.serve_forever, name="fake-llm", daemon=True).start()
    return fake


def slow(answer_s: float, words: int = 10) -> Behaviour:
    """An answer of `words` words streamed over about `answer_s` seconds."""
    return replace(
        Behaviour(), token_delay_s=answer_s / words, answer=" ".join(f"word{index}" for index in range(words))
    )
