"""Real Celery worker processes ingest documents: embedded filesystem broker, Redis, SIGKILL,
and two workers on Redis sharing a batch while one of them is killed.

Each test starts `celery -A voltai_server worker` against the test database (so it needs
committed rows: transactional_db) and waits for the worker's heartbeat before uploading.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from library.ingest import INGEST_LOCK_CLASS
from library.models import Chunk, Document, IngestWorker
from library.parsing.pdf_text import open_pdf
from library.progress import document_progress
from library.services import document_upload
from library.signals import RECOVERY_S, STALE_QUEUED_AFTER
from orgs.models import Organization
from orgs.services import org_create
from tests.conftest import ARTIFACTS, DATASHEETS, ROOT, manage_py, server_env
from tests.library.sequential import sequential_chunks

pytestmark = [pytest.mark.slow]

CELERY = str(Path(sys.executable).parent / "celery")
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
            # Names its database connections, so pg_locks tells which worker holds an ingest lock.
            env=server_env(**{"DB_APPLICATION_NAME": f"voltai-worker {self.name}", **env}),
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


def expected_chunks(path: Path, *, ocr: bool = True) -> list[tuple[int, str]]:
    """What a clean, sequential ingest of the file stores: (page, text) per ordinal."""
    return sequential_chunks(path.read_bytes(), ocr=ocr)


def stored_chunks(document: Document) -> list[tuple[int, int, str]]:
    return list(Chunk.objects.filter(document=document).order_by("ordinal").values_list("ordinal", "page", "text"))


def assert_one_clean_set_of_chunks(document: Document, path: Path, *, ocr: bool = True) -> None:
    expected = expected_chunks(path, ocr=ocr)
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
    assert document.pages_total == 88 and 0 < document.pages_done < 88
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


# --- two workers on Redis, one killed mid-document --------------------------------------

SCALE_REDIS_URL = "redis://127.0.0.1:6379/7"  # a database of its own: the suite's 13 may be in use
# The six smallest datasheets: 166 pages, enough for both workers to be busy when one dies.
BATCH = [
    DATASHEETS / name
    for name in (
        "infineon-irf540n.pdf",
        "renesas-icl7660.pdf",
        "adi-adxl345.pdf",
        "espressif-esp32-wroom-32.pdf",
        "ftdi-ft232r.pdf",
        "nxp-pca9685.pdf",
        BIG.name,  # long enough to be caught mid-way however fast ingestion gets
    )
]
_LOG_LINE = re.compile(r'"message": "ingest (started|finished): document (\d+) ')


@pytest.fixture
def scale_redis_db() -> Iterator[str]:
    client = redis.Redis.from_url(SCALE_REDIS_URL)
    client.flushdb()
    yield SCALE_REDIS_URL
    client.flushdb()


def ingest_lock_holder(document_id: int) -> str | None:
    """The application_name of the connection holding the document's ingest lock, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 AND l.granted",
            [INGEST_LOCK_CLASS, document_id % 2**31],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def ingest_log(*workers: Worker) -> Counter[tuple[str, int]]:
    """("started" | "finished", document id) → how many times the workers' logs say so."""
    return Counter((event, int(pk)) for worker in workers for event, pk in _LOG_LINE.findall(worker.log()))


def _one_is_mid_document(org: Organization, pair: list[Worker], victims: list[tuple[Worker, Document]]) -> bool:
    """Whether a worker of the pair is ingesting a document it cannot finish before a kill lands
    (some pages embedded, several still to go); if so, (that worker, the document) goes to `victims`."""
    for document in Document.objects.filter(org=org, status=Document.Status.PROCESSING):
        holder = ingest_lock_holder(document.pk)
        owner = next((w for w in pair if holder == f"voltai-worker {w.name}"), None)
        if owner and document.pages_total and 0 < document.pages_done <= document.pages_total - 4:
            victims.append((owner, document))
            return True
    return False


@pytest.mark.heavy
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_redis_finish_a_batch_when_one_is_killed_mid_document(workers, scale_redis_db) -> None:
    # Why this fails if recovery is broken: the killed worker's message stays unacknowledged in
    # Redis, which hands it out again only after CELERY_VISIBILITY_TIMEOUT (an hour here, the
    # default). Within this test, only the survivor's periodic sweep (documents_recover, every
    # RECOVERY_S = 60 s) can notice the document is `processing` with nobody holding its lock and
    # queue it again; without it the document stays `processing` and the final wait times out.
    # (Tried: with documents_recover returning [] at once, it fails there after 240 s.) The log
    # counts catch the opposite fault, a document swapped in twice. About 2 minutes on 2 cores.
    org = org_create(name="Acme")
    # OCR off: the MCP2515's four drawing pages would be read by OCR, 10-60 s each on a loaded
    # machine, whose timeouts would change the chunks; this test is about exactly-once delivery.
    pair = [workers(name, CELERY_BROKER_URL=scale_redis_db, OCR="off") for name in ("left", "right")]
    for worker in pair:
        worker.wait_ready()
    result = manage_py("ingest", "Acme", *map(str, BATCH), timeout=120, CELERY_BROKER_URL=scale_redis_db)
    assert result.returncode == 0, result.stdout + result.stderr
    documents = {d.source_name: d for d in Document.objects.filter(org=org)}
    assert set(documents) == {path.name for path in BATCH}

    victims: list[tuple[Worker, Document]] = []
    wait_until(lambda: _one_is_mid_document(org, pair, victims), 120, pair[0])
    doomed, document = victims[0]
    survivor = pair[1] if doomed is pair[0] else pair[0]
    doomed.kill(signal.SIGKILL)  # the whole process group: the main process and its pool child

    document.refresh_from_db()
    assert document.status == Document.Status.PROCESSING
    assert not Chunk.objects.filter(document=document).exists()  # nothing half-written
    deadline = time.monotonic() + 30
    while ingest_lock_holder(document.pk) is not None:  # PostgreSQL drops it with the connection
        assert time.monotonic() < deadline
        time.sleep(0.2)

    def all_done() -> bool:
        return not Document.objects.filter(org=org, status__in=("queued", "processing")).exists()

    # The survivor's sweep runs every RECOVERY_S and queues again a document queued for
    # STALE_QUEUED_AFTER whose message is lost; then it ingests the rest one by one.
    wait_until(all_done, RECOVERY_S * 2 + STALE_QUEUED_AFTER.total_seconds() + 120, survivor)

    ids = sorted(d.pk for d in documents.values())
    for path in BATCH:
        current = Document.objects.get(pk=documents[path.name].pk)
        assert current.status == Document.Status.READY, (path.name, current.error)
        assert current.version == 1
        assert current.pages_done == current.pages_total == len(open_pdf(path.read_bytes()).pages)
        assert_one_clean_set_of_chunks(current, path, ocr=False)
    # Each document completed exactly once; the victim was started twice, once by each worker.
    log = ingest_log(doomed, survivor)
    assert {pk: log["finished", pk] for pk in ids} == dict.fromkeys(ids, 1)
    assert log["started", document.pk] == 2
    assert ingest_log(doomed)["finished", document.pk] == 0
    assert f"document {document.pk} was left processing by a worker that stopped" in survivor.log()
    # The rescue was not the broker's: the dead worker's delivery is still unacknowledged in
    # Redis (kombu keeps such deliveries in the "unacked" hash until the visibility timeout).
    assert redis.Redis.from_url(scale_redis_db).hlen("unacked") == 1
