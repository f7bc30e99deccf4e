"""Celery tasks of the library: thin wrappers around services, taking ids only."""

from celery import shared_task

from library import services
from library import signals as _worker_signals  # noqa: F401  (connects the worker's start-up recovery)


@shared_task(name="library.ingest_document", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def document_ingest_task(document_id: int) -> None:
    services.document_ingest(document_id=document_id)


def enqueue_ingest(document_id: int) -> None:
    document_ingest_task.delay(document_id)
