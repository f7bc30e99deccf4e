"""Celery tasks of the library: thin wrappers around library.ingest, taking ids only."""

from celery import Task, shared_task

from library import ingest

# Another worker holding the document (an older version of it, or a duplicate message):
# look again later rather than drop the message. An hour of retries covers any document.
_BUSY_RETRY_S = 30
_BUSY_MAX_RETRIES = 120


@shared_task(bind=True, name="library.ingest_document", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def document_ingest_task(self: Task, document_id: int) -> None:
    if not ingest.document_ingest(document_id=document_id):
        raise self.retry(countdown=_BUSY_RETRY_S, max_retries=_BUSY_MAX_RETRIES)


def enqueue_ingest(document_id: int) -> None:
    document_ingest_task.delay(document_id)
