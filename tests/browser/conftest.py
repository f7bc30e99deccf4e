"""Playwright (sync API) driving Debian's Chromium against a real server process.

Never a downloaded browser: `scripts/ensure_chromium.sh` installs /usr/bin/chromium with apt.
Each test saves screenshots under test-artifacts/browser/.
"""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT, ServerProcess, server_env, start_server, stop_process_group, stop_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = ARTIFACTS / "browser"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


# Playwright's sync API runs an event loop in the test's thread, and Django refuses ORM
# calls from a thread with a running loop. The test code is synchronous, so `chromium`
# allows it while a browser runs; server and worker processes never get it (`_safe_env`).
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@contextmanager
def _safe_env() -> Iterator[None]:
    """Start child processes without the test's DJANGO_ALLOW_ASYNC_UNSAFE."""
    value = os.environ.pop(ASYNC_UNSAFE, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[ASYNC_UNSAFE] = value


def start_browser_server(**kwargs: object) -> ServerProcess:
    with _safe_env():
        return start_server(**kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure_chromium.sh")], check=True)
    from playwright.sync_api import sync_playwright

    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def new_page(chromium, request):
    """Make pages in fresh contexts (separate cookies); each shows its console errors on failure."""
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP):
        context = chromium.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC")
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


def shoot(page, name: str, *, full_page: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, "login failed"


@pytest.fixture
def web_server(transactional_db) -> Iterator[ServerProcess]:
    """One uvicorn worker (the machine is shared) against the test database."""
    server = start_browser_server(workers=1, log_name="browser-server")
    try:
        yield server
    finally:
        stop_server(server)


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[WorkerProcess]:
    """A real `celery -A voltai_server worker` on the test database and this run's broker folder."""
    from django.conf import settings

    # Messages left by earlier runs name documents of a database that no longer exists.
    shutil.rmtree(settings.BROKER_DIR / "in", ignore_errors=True)
    (settings.BROKER_DIR / "in").mkdir(parents=True, exist_ok=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"browser-worker-{os.getpid()}.log"
    with _safe_env():
        env = server_env()
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "voltai_server", "worker", "--pool=solo", "--loglevel=INFO"],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield WorkerProcess(process, log_path)
    finally:
        stop_process_group(process)


def wait_until(condition, timeout: float, explain) -> None:
    """Poll `condition`; on timeout fail with `explain()`, evaluated then (it may read logs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(explain())
