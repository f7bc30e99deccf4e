"""Helpers for tests against a real `manage.py serve` (uvicorn, several worker processes)."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from tests.conftest import ServerProcess


def ask(server: ServerProcess, key: str, user_id: str, **body: object) -> httpx.Response:
    payload = {"query": "What is the I2C address of the BME280?", "user_id": user_id, "mode": "FAST", **body}
    return httpx.post(f"{server.base_url}/chat/query/", json=payload, headers={"X-API-KEY": key}, timeout=120)


def sessions(server: ServerProcess, key: str) -> dict:
    response = httpx.get(f"{server.base_url}/chat/sessions/", headers={"X-API-KEY": key}, timeout=30)
    assert response.status_code == 200
    return response.json()


def together(calls: list[Callable[[], httpx.Response]]) -> list[Future]:
    """Start every call at the same instant (a barrier), each on its own thread."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    pool = ThreadPoolExecutor(max_workers=len(calls))
    futures = [pool.submit(run, call) for call in calls]
    pool.shutdown(wait=False)
    return futures


def wait_until_done(futures: list[Future], count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(future.done() for future in futures) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"only {sum(f.done() for f in futures)} of {len(futures)} requests finished")


def wait_for(condition: Callable[[], bool], timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
