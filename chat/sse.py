"""Server-Sent Events for a chat turn, under the ASGI server.

The answering pipeline is synchronous (ORM, model calls), so it runs in a thread of its own
and hands its events to the response's async iterator through an asyncio queue. The async
side can then wait for the next event and a keep-alive tick at once, and it notices a client
that goes away: Django's ASGI handler cancels the response on `http.disconnect`, which lands
in `_events` below as CancelledError. On that the hold is released at once and the thread is
told to stop at its next event, which stores the answer so far as aborted.
"""

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import StreamingHttpResponse

from chat.services import ChatEvent, ChatTurn, chat_turn_events
from core.error_rendering import error_event_data

logger = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
PING = b": ping\n\n"


def wants_event_stream(accept_header: str) -> bool:
    """True when the Accept header lists text/event-stream (with a non-zero q)."""
    for item in accept_header.split(","):
        media_type, *params = (part.strip() for part in item.split(";"))
        if media_type.lower() != EVENT_STREAM:
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return True
        return True
    return False


def sse_message(name: str, data: dict[str, Any]) -> bytes:
    """One SSE event. The JSON is on one line, so one `data:` field carries it."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def turn_event_stream(turn: ChatTurn) -> StreamingHttpResponse:
    """Stream an admitted turn's events as SSE; the stream takes over the turn's hold."""
    return event_stream_response(events=chat_turn_events(turn=turn), release=turn.hold.hand_over())


def event_stream_response(
    *, events: Generator[ChatEvent, None, None], release: Callable[[], None]
) -> StreamingHttpResponse:
    """Stream `events` as SSE. `release` frees the request's hold when the client disconnects.

    `events` must be a generator whose close() stops the turn (chat.services.chat_turn_events).
    """
    response = StreamingHttpResponse(_events(events, release), content_type=EVENT_STREAM)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and friends: do not buffer the stream
    return response


async def _events(events: Generator[ChatEvent, None, None], release: Callable[[], None]) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()
    worker = threading.Thread(target=_pump, args=(events, loop, queue, stop), name="sse-answer", daemon=True)
    worker.start()
    next_item: asyncio.Future | None = None
    finished = False
    try:
        while True:
            if next_item is None:
                next_item = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({next_item}, timeout=settings.SSE_KEEPALIVE_S)
            if not done:
                yield PING
                continue
            kind, payload = next_item.result()
            next_item = None
            if kind == "event":
                yield sse_message(payload.name, payload.data)
            elif kind == "error":
                yield sse_message("error", error_event_data(payload))
            else:
                finished = True
                return
    finally:
        if next_item is not None:
            next_item.cancel()
        if not finished:
            # The client went away mid-answer: free the hold now rather than when the
            # model's current call returns, and let the thread wind the turn down.
            stop.set()
            await asyncio.to_thread(_release_and_disconnect, release)


def _pump(
    events: Generator[ChatEvent, None, None],
    loop: asyncio.AbstractEventLoop,
    queue: asyncio.Queue,
    stop: threading.Event,
) -> None:
    def put(item: tuple[str, Any]) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (server shutting down)
            stop.set()

    try:
        for event in events:
            if stop.is_set():
                break
            put(("event", event))
    except BaseException as exc:
        put(("error", exc))
    finally:
        try:
            events.close()  # stores an unfinished answer as aborted
        except Exception:
            logger.exception("closing an interrupted answer failed")
        put(("end", None))
        connections.close_all()  # this thread's own database connection


def _release_and_disconnect(release: Callable[[], None]) -> None:
    try:
        release()
    except Exception:
        logger.exception("releasing the hold of a disconnected stream failed")
    finally:
        connections.close_all()
