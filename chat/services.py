"""Writes for chats: admitting a request, running one question-and-answer turn, storing it.

One turn, for the API and the web page alike:

    turn = chat_turn_begin(org=..., holder=..., user_id=..., query=..., mode=..., chat_id=...,
                           topic_names=..., api_key=..., created_by=...)   # may raise 4xx errors
    for event in chat_turn_events(turn=turn):                            # ChatEvent: meta, step*, delta+, done
        ...

`chat_turn_begin` validates (topics, chat), admits (hold + floating seat, in PostgreSQL),
creates the chat when `chat_id` is None and stores the question. `chat_turn_events` runs the
agent, stores the answer and releases the hold before it yields `done`. An LLM failure stores
a failed answer and raises LlmUnavailable/LlmTimeout after releasing the hold; closing the
iterator early (client gone) stores what was said so far as aborted and releases the hold.
If you begin a turn and never iterate it, call `chat_turn_release(turn=turn)`.

`chat_turn_stream(...)` is begin + events in one generator; `chat_query_answer(...)` is the
JSON variant returning the `done` object.

`holder` names who is asking: "key:<ApiKey.pk>" for the API, "web:<User.pk>" for the web page.
One request per (org, holder, user_id) may be in flight.
"""

import logging
import math
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction

from agent.events import AgentEvent, AnswerDelta, AnswerDone, ModeChosen, Source, ToolStep, Turn
from agent.services import RequestedMode, answer_stream
from chat.links import chat_url, source_url
from chat.models import Chat, Message, Mode, RequestHold, Seat
from chat.selectors import chat_get_for_user, chat_history, seat_window_start
from core import clock
from core.error_rendering import error_for_exception
from core.errors import ApplicationError, SeatsExhausted, UserBusy
from core.metrics import ANSWER_LATENCY
from orgs.models import ApiKey, Organization
from topics.models import Topic
from topics.selectors import topics_resolve

logger = logging.getLogger(__name__)

TITLE_MAX_CHARS = 200

EventName = Literal["meta", "step", "delta", "done"]


@dataclass(frozen=True)
class ChatEvent:
    """One event of a turn, named as on the SSE wire; `data` is the event's JSON object."""

    name: EventName
    data: dict[str, Any]


@dataclass
class ChatTurn:
    """An admitted turn: the hold is taken and the question stored; the answer is still to come."""

    org: Organization
    chat: Chat
    chat_url: str
    hold_id: int
    user_id: str
    query: str
    requested_mode: RequestedMode
    topics: list[Topic] | None
    history: list[Turn]
    question: Message
    started: float = field(default_factory=time.perf_counter)
    last_hold_extension: float = field(default_factory=time.monotonic)
    released: bool = False


# --- admission -------------------------------------------------------------------------


def hold_acquire(*, org: Organization, holder: str, user_id: str) -> int:
    """Admit one request for (org, holder, user_id); return the hold's id.

    One short transaction that serialises admissions per org (the org row is locked), so the
    limits hold across any number of server processes. Raises UserBusy when a live hold exists
    and SeatsExhausted when this user_id has no live seat and every seat is taken; a refused
    request rolls back and records nothing (it is not activity).
    """
    now = clock.now()
    hold_table = RequestHold._meta.db_table
    seat_table = Seat._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT max_sessions FROM {Organization._meta.db_table} WHERE id = %s FOR UPDATE", [org.pk])
        row = cursor.fetchone()
        if row is None:
            raise ApplicationError(f"Organization {org.pk} no longer exists.")
        max_sessions = row[0]
        cursor.execute(
            f"DELETE FROM {hold_table} WHERE org_id = %s AND holder = %s AND user_id = %s AND expires_at <= %s",
            [org.pk, holder, user_id, now],
        )
        cursor.execute(
            f"INSERT INTO {hold_table} (org_id, holder, user_id, started_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (org_id, holder, user_id) DO NOTHING RETURNING id",
            [org.pk, holder, user_id, now, now + timedelta(seconds=settings.HOLD_TTL_SECONDS)],
        )
        inserted = cursor.fetchone()
        if inserted is None:
            cursor.execute(
                f"SELECT max(expires_at) FROM {hold_table} WHERE org_id = %s AND holder = %s AND user_id = %s",
                [org.pk, holder, user_id],
            )
            raise UserBusy(user_id, retry_after=_seconds_until(cursor.fetchone()[0], now))
        window_start = seat_window_start(now=now)
        if max_sessions is not None:
            cursor.execute(
                f"SELECT 1 FROM {seat_table} WHERE org_id = %s AND user_id = %s AND last_activity_at > %s",
                [org.pk, user_id, window_start],
            )
            if cursor.fetchone() is None:
                cursor.execute(
                    f"SELECT count(*), min(last_activity_at) FROM {seat_table}"
                    " WHERE org_id = %s AND last_activity_at > %s",
                    [org.pk, window_start],
                )
                active, oldest_activity = cursor.fetchone()
                if active >= max_sessions:
                    # The oldest seat is the first that can free up.
                    # (An org with no seats at all has none to free: retry after the minimum.)
                    window = timedelta(seconds=settings.SEAT_WINDOW_SECONDS)
                    frees_at = oldest_activity + window if oldest_activity is not None else None
                    raise SeatsExhausted(
                        total_seats=max_sessions, active_seats=active, retry_after=_seconds_until(frees_at, now)
                    )
        cursor.execute(
            f"INSERT INTO {seat_table} (org_id, user_id, last_activity_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (org_id, user_id) DO UPDATE"
            f" SET last_activity_at = GREATEST({seat_table}.last_activity_at, EXCLUDED.last_activity_at)",
            [org.pk, user_id, now],
        )
        return int(inserted[0])


def _seconds_until(moment: datetime | None, now: datetime) -> int:
    """Whole seconds from now until `moment`, at least 1 (a Retry-After value)."""
    if moment is None:
        return 1
    return max(1, math.ceil((moment - now).total_seconds()))


def hold_release(*, hold_id: int) -> None:
    """Free a hold. Deleting by id never frees a newer hold that replaced an expired one."""
    RequestHold.objects.filter(pk=hold_id).delete()


def hold_extend(*, hold_id: int) -> None:
    """Push a live hold's expiry forward, so a long answer keeps its place."""
    expires_at = clock.now() + timedelta(seconds=settings.HOLD_TTL_SECONDS)
    RequestHold.objects.filter(pk=hold_id).update(expires_at=expires_at)


# --- turns -----------------------------------------------------------------------------


def chat_turn_begin(
    *,
    org: Organization,
    holder: str,
    user_id: str,
    query: str,
    mode: RequestedMode = "AUTO",
    chat_id: UUID | None = None,
    topic_names: Sequence[str] | None = None,
    api_key: ApiKey | None = None,
    created_by: User | None = None,
) -> ChatTurn:
    """Validate, admit and store the question. Raises UnknownTopic, ChatNotFound, UserBusy, SeatsExhausted.

    Validation runs before admission, so a request refused for a bad topic or chat_id neither
    takes a hold nor counts as seat activity. `topic_names` None or [] means automatic scope.
    """
    topics = topics_resolve(org=org, names=list(topic_names)) if topic_names else None
    chat = chat_get_for_user(org=org, user_id=user_id, chat_id=chat_id) if chat_id is not None else None
    history = chat_history(chat=chat) if chat is not None else []
    hold_id = hold_acquire(org=org, holder=holder, user_id=user_id)
    try:
        with transaction.atomic():
            if chat is None:
                chat = Chat.objects.create(
                    org=org, user_id=user_id, api_key=api_key, created_by=created_by, title=_title(query)
                )
            question = Message.objects.create(
                chat=chat, role=Message.Role.USER, content=query, requested_mode=mode, status=Message.Status.COMPLETE
            )
            chat.save(update_fields=["updated_at"])
    except BaseException:
        hold_release(hold_id=hold_id)
        raise
    return ChatTurn(
        org=org,
        chat=chat,
        chat_url=chat_url(org_name=org.name, chat_id=chat.pk),
        hold_id=hold_id,
        user_id=user_id,
        query=query,
        requested_mode=mode,
        topics=topics,
        history=history,
        question=question,
    )


def chat_turn_release(*, turn: ChatTurn) -> None:
    """Release the turn's hold (idempotent)."""
    if not turn.released:
        hold_release(hold_id=turn.hold_id)
        turn.released = True


def chat_turn_events(*, turn: ChatTurn) -> Generator[ChatEvent, None, None]:
    """Run the agent for an admitted turn; yield meta, step*, delta+, done. See the module docstring."""
    text: list[str] = []
    mode: str | None = None
    steps: list[ToolStep] = []
    outcome: tuple[str, str] = (Message.Status.ABORTED, "")
    stream: Iterator[AgentEvent] | None = None
    try:
        stream = answer_stream(
            org=turn.org,
            query=turn.query,
            mode=turn.requested_mode,
            history=turn.history,
            topics=turn.topics,
        )
        for event in stream:
            _keep_hold_alive(turn)
            if isinstance(event, ModeChosen):
                mode = event.mode
                yield ChatEvent("meta", {"chat_id": str(turn.chat.pk), "chat_url": turn.chat_url, "mode": mode})
            elif isinstance(event, ToolStep):
                if mode is None:
                    mode = Mode.AGENTIC
                    yield _meta(turn, mode)
                steps.append(event)
                yield ChatEvent("step", {"tool": event.tool, "input": event.input, "result": event.result})
            elif isinstance(event, AnswerDelta):
                if mode is None:
                    mode = None if turn.requested_mode == Mode.AUTO else turn.requested_mode
                    yield _meta(turn, mode)
                if event.text:
                    text.append(event.text)
                    yield ChatEvent("delta", {"text": event.text})
            elif isinstance(event, AnswerDone):
                if mode is None:
                    yield _meta(turn, event.mode)
                if not text and event.answer:
                    yield ChatEvent("delta", {"text": event.answer})
                response = _store_answer(turn, event)
                outcome = (Message.Status.COMPLETE, "")
                chat_turn_release(turn=turn)
                yield ChatEvent("done", response)
                return
        raise ApplicationError("The answering pipeline ended without an answer.")
    except GeneratorExit:
        # The consumer stopped listening (client gone). After `done` that is just the end.
        if outcome[0] != Message.Status.COMPLETE:
            outcome = (Message.Status.ABORTED, "client_disconnected")
        raise
    except BaseException as exc:
        outcome = (Message.Status.FAILED, error_for_exception(exc).code)
        raise
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()
        try:
            if outcome[0] != Message.Status.COMPLETE:
                _store_unfinished(
                    turn, content="".join(text), mode=mode, steps=steps, status=outcome[0], error=outcome[1]
                )
        finally:
            chat_turn_release(turn=turn)


def chat_turn_stream(
    *,
    org: Organization,
    holder: str,
    user_id: str,
    query: str,
    mode: RequestedMode = "AUTO",
    chat_id: UUID | None = None,
    topic_names: Sequence[str] | None = None,
    api_key: ApiKey | None = None,
    created_by: User | None = None,
) -> Iterator[ChatEvent]:
    """`chat_turn_begin` then `chat_turn_events`, as one generator (admission errors raise on first next())."""
    turn = chat_turn_begin(
        org=org,
        holder=holder,
        user_id=user_id,
        query=query,
        mode=mode,
        chat_id=chat_id,
        topic_names=topic_names,
        api_key=api_key,
        created_by=created_by,
    )
    yield from chat_turn_events(turn=turn)


def chat_turn_answer(*, turn: ChatTurn) -> dict[str, Any]:
    """Run an admitted turn to the end and return the `done` object (the JSON response)."""
    events = chat_turn_events(turn=turn)
    try:
        for event in events:
            if event.name == "done":
                return event.data
    finally:
        events.close()
    raise ApplicationError("The answering pipeline ended without an answer.")


def chat_query_answer(
    *,
    org: Organization,
    holder: str,
    user_id: str,
    query: str,
    mode: RequestedMode = "AUTO",
    chat_id: UUID | None = None,
    topic_names: Sequence[str] | None = None,
    api_key: ApiKey | None = None,
    created_by: User | None = None,
) -> dict[str, Any]:
    """The non-streaming call: admit, answer, store; return the contract's response object."""
    turn = chat_turn_begin(
        org=org,
        holder=holder,
        user_id=user_id,
        query=query,
        mode=mode,
        chat_id=chat_id,
        topic_names=topic_names,
        api_key=api_key,
        created_by=created_by,
    )
    return chat_turn_answer(turn=turn)


# --- helpers ---------------------------------------------------------------------------


def _meta(turn: ChatTurn, mode: str | None) -> ChatEvent:
    return ChatEvent("meta", {"chat_id": str(turn.chat.pk), "chat_url": turn.chat_url, "mode": mode})


def _keep_hold_alive(turn: ChatTurn) -> None:
    # A third of the TTL between extensions: a live answer never loses its hold, and a
    # killed one frees it within one TTL.
    if time.monotonic() - turn.last_hold_extension >= settings.HOLD_TTL_SECONDS / 3:
        hold_extend(hold_id=turn.hold_id)
        turn.last_hold_extension = time.monotonic()


def _title(query: str) -> str:
    line = " ".join(query.split())
    if len(line) <= TITLE_MAX_CHARS:
        return line
    return line[: TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip() + "…"


def _stored_source(org: Organization, source: Source) -> dict[str, Any]:
    return {
        "source_name": source.source_name,
        "page": source.page,
        "url": source_url(org_name=org.name, source_name=source.source_name, page=source.page),
        "document_id": source.document_id,
        "chunk_ids": list(source.chunk_ids),
        "passages": list(source.passages),
    }


def _step(step: ToolStep) -> dict[str, Any]:
    return {"tool": step.tool, "input": step.input, "result": step.result}


def _store_answer(turn: ChatTurn, done: AnswerDone) -> dict[str, Any]:
    sources = [_stored_source(turn.org, source) for source in done.sources]
    elapsed = time.perf_counter() - turn.started
    ANSWER_LATENCY.labels(mode=done.mode).observe(elapsed)
    timings = {**done.timings, "total_ms": round(elapsed * 1000, 1)}
    with transaction.atomic():
        Message.objects.create(
            chat=turn.chat,
            role=Message.Role.ASSISTANT,
            content=done.answer,
            requested_mode=turn.requested_mode,
            mode=done.mode,
            sources=sources,
            topics=list(done.topics),
            timings=timings,
            steps=[_step(step) for step in done.steps],
            status=Message.Status.COMPLETE,
        )
        turn.chat.save(update_fields=["updated_at"])
    return {
        "final_answer": done.answer,
        "chat_id": str(turn.chat.pk),
        "chat_url": turn.chat_url,
        "sources": [{key: source[key] for key in ("source_name", "page", "url")} for source in sources],
        "mode": done.mode,
    }


def _store_unfinished(
    turn: ChatTurn, *, content: str, mode: str | None, steps: list[ToolStep], status: str, error: str
) -> None:
    """Record a failed or aborted answer next to its question, so the thread shows what happened."""
    try:
        Message.objects.create(
            chat=turn.chat,
            role=Message.Role.ASSISTANT,
            content=content,
            requested_mode=turn.requested_mode,
            mode=mode or "",
            steps=[_step(step) for step in steps],
            timings={"total_ms": round((time.perf_counter() - turn.started) * 1000, 1)},
            status=status,
            error=error,
        )
    except Exception:  # the original error matters more than the bookkeeping
        logger.exception("could not store the %s answer of chat %s", status, turn.chat.pk)
