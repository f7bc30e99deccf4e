"""Real Celery worker processes ingest documents: embedded filesystem broker, Redis, and SIGKILL.

Each test starts `celery -A voltai_server worker` against the test database (so it needs
committed rows: transactional_db) and waits for the worker's heartbeat before uploading.
"""

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from library.chunking import chunk_page
from library.models import Chunk, Document, IngestWorker
from library.pdf_text import extract_page_text, normalise_text, open_pdf, strip_running_headers
from library.selectors import document_progress
from library.services import document_upload
from orgs.services import org_create
from tests.conftest import ARTIFACTS, DATASHEETS, ROOT, manage_py, server_env

pytestmark = [pytest.mark.slow]

CELERY = str(Path(os.sys.executable).parent / "celery")
REDIS_URL = "redis://127.0.0.1:6379/13"  # this suite's own Redis database; only it is flushed
SMALL = DATASHEETS / "infineon-irf540n.pdf"  # 8 pages
_WORKER_ARGS = [CELERY, "-A", "voltai_server", "worker", "--loglevel", "INFO", "--concurrency", "1", "--without-mingle"]
BIG = DATASHEETS / "microchip-mcp2515.pdf"  # 88 pages: time to kill the worker mid-way


class Worker:
    def __init__(self, name: str, **env: str) -> None:
        self.name = f"{name}-{uuid.uuid4().hex[:6]}"
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"worker-{self.name}.log"
        self.process = subprocess.Popen(
            [*_WORKER_ARGS, "-n", f"{self.name}@%h"],
            cwd=ROOT,
            env=server_env(**env),
            stdout=open(self.log_path, "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool child dies with it
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 180) -> None:
        wait_until(lambda: IngestWorker.objects.filter(name__startswith=self.name).exists(), timeout, self)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(30)


def wait_until(predicate: Callable[[], bool], timeout: float, worker: Worker) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if worker.process.poll() is not None:
            pytest.fail(f"worker exited with {worker.process.returncode}:\n{worker.log()[-4000:]}")
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout} s; worker log:\n{worker.log()[-4000:]}")


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(name: str, **env: str) -> Worker:
        worker = Worker(name, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture
def empty_filesystem_broker() -> None:
    """No message left over from an earlier run of this data folder."""
    for sub in ("in", "processed"):
        folder = Path(settings.BROKER_DIR) / sub
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)


@pytest.fixture
def redis_db() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def expected_chunks(path: Path) -> list[tuple[int, str]]:
    """What a clean, sequential ingest of the file stores: (page, text) per ordinal."""
    reader = open_pdf(path.read_bytes())
    pages = strip_running_headers([normalise_text(extract_page_text(reader, i)) for i in range(len(reader.pages))])
    return [(d.page, d.text) for n, text in enumerate(pages, start=1) for d in chunk_page(n, text)]


def stored_chunks(document: Document) -> list[tuple[int, int, str]]:
    return list(Chunk.objects.filter(document=document).order_by("ordinal").values_list("ordinal", "page", "text"))


def assert_one_clean_set_of_chunks(document: Document, path: Path) -> None:
    expected = expected_chunks(path)
    stored = stored_chunks(document)
    assert [ordinal for ordinal, _, _ in stored] == list(range(len(expected)))  # no duplicates, no gaps
    assert [(page, text) for _, page, text in stored] == expected


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_embedded_filesystem_broker_ingests_an_upload(workers, empty_filesystem_broker) -> None:
    assert settings.CELERY_BROKER_URL.startswith("filesystem://")
    org = org_create(name="Acme")
    worker = workers("fs")
    worker.wait_ready()
    # The default enqueue: on commit, through this process's Celery app and the broker folder.
    document = document_upload(org=org, filename=SMALL.name, data=SMALL.read_bytes()).document
    wait_until(lambda: Document.objects.get(pk=document.pk).status in ("ready", "failed"), 240, worker)
    document.refresh_from_db()
    assert document.status == Document.Status.READY, document.error
    assert document.pages_done == document.pages_total == 8
    assert_one_clean_set_of_chunks(document, SMALL)
    assert "library.ingest_document" in worker.log()


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_redis_ingests_what_manage_py_ingest_queues(workers, redis_db) -> None:
    org_create(name="Acme")
    worker = workers("redis", CELERY_BROKER_URL=redis_db)
    worker.wait_ready()
    result = manage_py("ingest", "Acme", str(SMALL), "--wait", timeout=300, CELERY_BROKER_URL=redis_db)
    assert result.returncode == 0, result.stdout + result.stderr + worker.log()[-3000:]
    assert f"ready: {SMALL.name} (8 pages)" in result.stdout
    document = Document.objects.get(source_name=SMALL.name)
    assert document.status == Document.Status.READY
    assert_one_clean_set_of_chunks(document, SMALL)
    assert "library.ingest_document" in worker.log()


@pytest.mark.heavy
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_document_is_finished_by_the_next_one_with_one_set_of_chunks(
    workers, empty_filesystem_broker
) -> None:
    org = org_create(name="Acme")
    first = workers("doomed")
    first.wait_ready()
    document = document_upload(org=org, filename=BIG.name, data=BIG.read_bytes()).document

    def mid_way() -> bool:
        current = Document.objects.get(pk=document.pk)
        return current.status == Document.Status.PROCESSING and current.pages_done > 0

    wait_until(mid_way, 300, first)
    first.kill(signal.SIGKILL)
    document.refresh_from_db()
    assert document.status == Document.Status.PROCESSING
    assert 0 < document.pages_done < document.pages_total == 88
    assert not Chunk.objects.filter(document=document).exists()  # nothing half-written
    # PostgreSQL drops the dead worker's ingest lock as soon as it notices the closed socket.
    deadline = time.monotonic() + 30
    while not document_progress(document=document).status_line.startswith("Interrupted"):
        assert time.monotonic() < deadline, document_progress(document=document)
        time.sleep(0.2)

    second = workers("rescuer")
    wait_until(lambda: Document.objects.get(pk=document.pk).status in ("ready", "failed"), 600, second)
    document.refresh_from_db()
    assert document.status == Document.Status.READY, document.error
    assert_one_clean_set_of_chunks(document, BIG)
    # The filesystem broker forgot the killed worker's message: the start-up sweep re-queued it.
    assert "queued again" in second.log()
