"""A real server for the benchmarks that go over HTTP: `manage.py serve` on a free port."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _django import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workers: int, *, log_path: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`manage.py serve` with `workers` uvicorn workers, in this process's data folder (and
    `env` on top); returns the process and its base URL once /healthz answers."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env={**os.environ, "APP_BASE_URL": base_url, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited early, see {log_path}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return process, base_url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit(f"the server did not become healthy, see {log_path}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
