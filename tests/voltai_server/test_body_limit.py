"""Oversized bodies are refused from their Content-Length, before the server reads them."""

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from core.errors import PayloadTooLarge
from tests.conftest import ServerProcess
from voltai_server.asgi import body_limit


def _raw_request(base_url: str, path: str, declared_length: int) -> tuple[str, float]:
    """Send headers declaring a huge body, then only a few bytes; return the reply and its delay."""
    parts = urlsplit(base_url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\nContent-Type: application/json\r\n"
                f"X-API-KEY: vt_000000000000_whatever\r\nContent-Length: {declared_length}\r\n\r\n{{}}"
            ).encode()
        )
        received = b""
        while chunk := sock.recv(4096):  # the server closes the connection after its 413
            received += chunk
        reply = received.decode(errors="replace")
    return reply, time.monotonic() - started


def test_uploads_get_the_upload_limit_and_everything_else_the_body_limit(settings) -> None:
    settings.MAX_UPLOAD_MB = 5
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert body_limit("/library/documents/") == 6 * 1024 * 1024
    assert body_limit("/Acme/library/upload") == 50 * 5 * 1024 * 1024 + 1024 * 1024
    assert body_limit("/chat/query/") == 1000 + 64 * 1024


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/chat/query/", "/library/documents/"])
def test_a_huge_declared_body_is_refused_at_once_without_reading_it(
    live_server_process: ServerProcess, path: str
) -> None:
    reply, delay = _raw_request(live_server_process.base_url, path, 10 * 1024**3)
    assert reply.startswith("HTTP/1.1 413"), reply
    # The same sentence as Django's own 413 for that path (tests/contract, tests/library).
    error = PayloadTooLarge.file_too_large() if path.startswith("/library") else PayloadTooLarge.body_too_large()
    assert json.dumps(error.payload()) in reply
    assert delay < 5  # it did not wait for ten gigabytes
