"""The ingestion worker's life cycle: recovery when it starts, then a heartbeat and a sweep.

Connected to Celery's worker signals by `LibraryConfig.ready()`. Each handler calls
library.ingest and nothing more.

- On start, every document an older ingestion pipeline made is queued again (it stays live
  meanwhile); then every document left `processing` by a dead worker, and every queued one, is
  queued again: the embedded filesystem broker forgets a message once a worker has taken
  it, so a SIGKILLed worker's document would otherwise wait forever (Redis would only
  redeliver it after the visibility timeout).
- Every HEARTBEAT_S the worker records that it is alive (so a document's status can say
  "no ingestion worker is running"), and every RECOVERY_S it sweeps again, so another
  worker dying is noticed without a restart.
"""

import logging
import threading
from datetime import timedelta
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.db import close_old_connections, connection

from core import clock
from library.ingest import (
    documents_queue_outdated,
    documents_recover,
    ingest_worker_heartbeat,
    ingest_worker_stopped,
)
from library.tasks import enqueue_ingest

logger = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
RECOVERY_S = 60.0
# A queued document that waited this long while no worker ingested anything lost its message.
STALE_QUEUED_AFTER = timedelta(minutes=2)

_stop = threading.Event()
_node_name = ""


def _name_of(sender: Any) -> str:
    return str(getattr(sender, "hostname", "") or getattr(getattr(sender, "app", None), "main", "") or "worker")


def on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    global _node_name
    _node_name = _name_of(sender)
    try:
        ingest_worker_heartbeat(name=_node_name, started_at=clock.now())
        documents_queue_outdated()
        recovered = documents_recover(enqueue=enqueue_ingest)
        if recovered:
            logger.info("queued again on start-up: documents %s", recovered)
    except Exception:  # a worker without its sweep still ingests; the next beat retries
        logger.exception("start-up recovery failed")
    finally:
        connection.close()  # the pool forks from this process: leave no socket to share
    _stop.clear()
    threading.Thread(target=_beat, name="voltai-ingest-heartbeat", daemon=True).start()


def _beat() -> None:
    last_sweep = clock.now()
    while not _stop.wait(HEARTBEAT_S):
        try:
            close_old_connections()
            ingest_worker_heartbeat(name=_node_name)
            if (clock.now() - last_sweep).total_seconds() >= RECOVERY_S:
                last_sweep = clock.now()
                documents_recover(enqueue=enqueue_ingest, stale_queued_after=STALE_QUEUED_AFTER)
        except Exception:
            logger.exception("worker heartbeat failed")
        finally:
            connection.close()


def on_worker_shutdown(sender: Any = None, **kwargs: Any) -> None:
    _stop.set()
    if not _node_name:
        return
    try:
        ingest_worker_stopped(name=_node_name)
    except Exception:
        logger.warning("could not record the worker's shutdown")
    finally:
        connection.close()


def connect() -> None:
    """Connect the handlers to Celery's worker signals (once, however often it is called)."""
    worker_ready.connect(on_worker_ready, dispatch_uid="library.on_worker_ready")
    worker_shutdown.connect(on_worker_shutdown, dispatch_uid="library.on_worker_shutdown")
