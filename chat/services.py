"""Writes for chats: one question-and-answer turn, admitted, answered and stored.

One turn, for the API and the web page alike:

    with chat_turn_begin(org=..., holder=..., user_id=..., query=..., mode=..., chat_id=...,
                         topic_names=..., api_key=..., created_by=...) as turn:  # may raise 4xx errors
        return Response(chat_turn_answer(turn=turn))    # or stream chat_turn_events(turn=turn)

`chat_turn_begin` validates (topics, chat), admits (chat.admission: hold + floating seat),
creates the chat when `chat_id` is None and stores the question. Leaving the `with` block
releases the hold, unless a stream took it over (chat.sse), which releases it when it ends.
`chat_turn_events` runs the agent and yields meta, step*, delta+, done; it stores the answer
and releases the hold before it yields `done`. An LLM failure stores a failed answer and
raises LlmUnavailable/LlmTimeout; closing the iterator early (client gone) stores what was
said so far as aborted.
"""

import logging
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from uuid import UUID

from django.contrib.auth.models import User
from django.db import transaction

from agent.events import AgentEvent, AnswerDelta, AnswerDone, Mode, ModeChosen, ToolStep, Turn
from agent.services import answer_stream
from chat.admission import Hold, admit
from chat.links import chat_url
from chat.models import Chat, Message
from chat.selectors import chat_get_for_user, chat_history
from core.error_rendering import error_for_exception
from core.errors import ApplicationError
from core.metrics import ANSWER_LATENCY
from library.links import source_url
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
    """An admitted turn: the hold is taken and the question stored; the answer is still to come.

    A context manager: leaving the block releases the hold (see chat.admission.Hold).
    """

    org: Organization
    chat: Chat
    chat_url: str
    hold: Hold
    user_id: str
    query: str
    requested_mode: str
    topics: list[Topic] | None
    history: list[Turn]
    question: Message
    started: float = field(default_factory=time.perf_counter)

    def __enter__(self) -> "ChatTurn":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.hold.__exit__(kind, error, traceback)


def chat_turn_begin(
    *,
    org: Organization,
    holder: str,
    user_id: str,
    query: str,
    mode: str = Mode.AUTO,
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
    hold = admit(org=org, holder=holder, user_id=user_id)
    try:
        chat, question = _store_question(org, chat, user_id, query, mode, api_key=api_key, created_by=created_by)
    except BaseException:
        hold.release()
        raise
    return ChatTurn(
        org=org,
        chat=chat,
        chat_url=chat_url(org_name=org.name, chat_id=chat.pk),
        hold=hold,
        user_id=user_id,
        query=query,
        requested_mode=mode,
        topics=topics,
        history=history,
        question=question,
    )


@transaction.atomic
def _store_question(
    org: Organization,
    chat: Chat | None,
    user_id: str,
    query: str,
    mode: str,
    *,
    api_key: ApiKey | None,
    created_by: User | None,
) -> tuple[Chat, Message]:
    if chat is None:
        chat = Chat.objects.create(
            org=org, user_id=user_id, api_key=api_key, created_by=created_by, title=_title(query)
        )
    question = Message.objects.create(
        chat=chat, role=Message.Role.USER, content=query, requested_mode=mode, status=Message.Status.COMPLETE
    )
    chat.save(update_fields=["updated_at"])
    return chat, question


@dataclass
class _Said:
    """What a turn has sent so far, for storing it if the turn ends before its answer."""

    text: list[str] = field(default_factory=list)
    mode: str | None = None
    steps: list[ToolStep] = field(default_factory=list)
    status: str = Message.Status.ABORTED
    error: str = ""


def chat_turn_events(*, turn: ChatTurn) -> Generator[ChatEvent, None, None]:
    """Run the agent for an admitted turn; yield meta, step*, delta+, done. See the module docstring."""
    said = _Said()
    stream: Iterator[AgentEvent] | None = None
    try:
        stream = answer_stream(
            org=turn.org, query=turn.query, mode=turn.requested_mode, history=turn.history, topics=turn.topics
        )
        for event in stream:
            turn.hold.keep_alive()
            if isinstance(event, AnswerDone):
                yield from _finish(turn, said, event)
                return
            yield from _events_of(turn, said, event)
        raise ApplicationError("The answering pipeline ended without an answer.")
    except GeneratorExit:
        # The consumer stopped listening (client gone). After `done` that is just the end.
        if said.status != Message.Status.COMPLETE:
            said.status, said.error = Message.Status.ABORTED, "client_disconnected"
        raise
    except BaseException as exc:
        said.status, said.error = Message.Status.FAILED, error_for_exception(exc).code
        raise
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()
        try:
            if said.status != Message.Status.COMPLETE:
                _store_unfinished(turn, said)
        finally:
            turn.hold.release()


def _events_of(turn: ChatTurn, said: _Said, event: AgentEvent) -> Iterator[ChatEvent]:
    """The wire events of one agent event before the answer is done (a `meta` first, always)."""
    if isinstance(event, ModeChosen):
        said.mode = event.mode
        yield _meta(turn, said.mode)
    elif isinstance(event, ToolStep):
        if said.mode is None:
            said.mode = Mode.AGENTIC
            yield _meta(turn, said.mode)
        said.steps.append(event)
        yield ChatEvent("step", _step(event))
    elif isinstance(event, AnswerDelta):
        if said.mode is None:
            said.mode = None if turn.requested_mode == Mode.AUTO else turn.requested_mode
            yield _meta(turn, said.mode)
        if event.text:
            said.text.append(event.text)
            yield ChatEvent("delta", {"text": event.text})


def _finish(turn: ChatTurn, said: _Said, done: AnswerDone) -> Iterator[ChatEvent]:
    """Store the answer, release the hold, and send `done` (with the JSON response)."""
    if said.mode is None:
        yield _meta(turn, done.mode)
    if not said.text and done.answer:
        yield ChatEvent("delta", {"text": done.answer})
    response = _store_answer(turn, done)
    said.status = Message.Status.COMPLETE
    turn.hold.release()
    yield ChatEvent("done", response)


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


def _meta(turn: ChatTurn, mode: str | None) -> ChatEvent:
    return ChatEvent("meta", {"chat_id": str(turn.chat.pk), "chat_url": turn.chat_url, "mode": mode})


def _title(query: str) -> str:
    line = " ".join(query.split())
    if len(line) <= TITLE_MAX_CHARS:
        return line
    return line[: TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip() + "…"


def _step(step: ToolStep) -> dict[str, Any]:
    return {"tool": step.tool, "input": step.input, "result": step.result}


def _store_answer(turn: ChatTurn, done: AnswerDone) -> dict[str, Any]:
    org_name = turn.org.name
    sources = [
        page.stored(url=source_url(org_name=org_name, source_name=page.source_name, page=page.page))
        for page in done.sources
    ]
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


def _store_unfinished(turn: ChatTurn, said: _Said) -> None:
    """Record a failed or aborted answer next to its question, so the thread shows what happened."""
    try:
        Message.objects.create(
            chat=turn.chat,
            role=Message.Role.ASSISTANT,
            content="".join(said.text),
            requested_mode=turn.requested_mode,
            mode=said.mode or "",
            steps=[_step(step) for step in said.steps],
            timings={"total_ms": round((time.perf_counter() - turn.started) * 1000, 1)},
            status=said.status,
            error=said.error,
        )
    except Exception:  # the original error matters more than the bookkeeping
        logger.exception("could not store the %s answer of chat %s", said.status, turn.chat.pk)
