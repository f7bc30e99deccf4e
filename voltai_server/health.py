"""Probes for load balancers and the Prometheus scrape endpoint."""

from collections.abc import Iterator
from datetime import timedelta

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from core import clock
from core.metrics import registry
from library.models import Document

_migrations_applied = False


def _database_status() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as exc:  # any failure to reach the database is a failed probe
        return False, f"database unreachable: {type(exc).__name__}"
    if row is None:
        return False, "the vector extension is not installed"
    return True, f"pgvector {row[0]}"


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers and has pgvector."""
    ok, detail = _database_status()
    return JsonResponse({"status": "ok" if ok else "error", "database": detail}, status=200 if ok else 503)


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: healthy, and every migration applied (so a new release does not take traffic early)."""
    ok, detail = _database_status()
    body = {"status": "ok", "database": detail, "migrations": "applied"}
    if ok and not _migrations_applied:
        ok, body["migrations"] = _migrations_status()
    if not ok:
        body["status"] = "error"
    return JsonResponse(body, status=200 if ok else 503)


def _migrations_status() -> tuple[bool, str]:
    """Whether every migration is applied, and in words; once they are, that is remembered."""
    global _migrations_applied
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return False, f"cannot read migrations: {type(exc).__name__}"
    _migrations_applied = not pending
    if pending:
        return False, f"{len(pending)} migration(s) not applied"
    return True, "applied"


class _IngestionCollector:
    """Ingestion queue depth and throughput, read from the database at scrape time.

    The worker may run on another machine, so the database is the one place that knows.
    """

    window = timedelta(minutes=5)

    def collect(self) -> Iterator[Metric]:
        since = clock.now() - self.window
        counts = Document.objects.aggregate(
            queued=Count("pk", filter=Q(status=Document.Status.QUEUED)),
            processing=Count("pk", filter=Q(status=Document.Status.PROCESSING)),
            failed=Count("pk", filter=Q(status=Document.Status.FAILED)),
            recent_pages=Sum("pages_total", filter=Q(status=Document.Status.READY, finished_at__gte=since)),
        )
        depth = GaugeMetricFamily("voltai_ingestion_queue_depth", "Documents by ingestion state.", labels=["status"])
        for status in ("queued", "processing", "failed"):
            depth.add_metric([status], counts[status])
        yield depth
        yield GaugeMetricFamily(
            "voltai_ingestion_pages_per_second",
            "Pages ingested per second over the last five minutes.",
            value=(counts["recent_pages"] or 0) / self.window.total_seconds(),
        )


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: requests, latencies, errors by code, answers by mode, ingestion."""
    database = CollectorRegistry()
    database.register(_IngestionCollector())
    try:
        ingestion = generate_latest(database)
    except Exception:  # the database being away must not hide the process metrics
        ingestion = b""
    return HttpResponse(generate_latest(registry()) + ingestion, content_type=CONTENT_TYPE_LATEST)
