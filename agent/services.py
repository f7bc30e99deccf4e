"""The answering pipeline: a question in, a stream of events out, ending with the cited answer.

`answer_stream` is the one entry point the chat API and the chat pages call. It knows
nothing of HTTP or chat storage: it yields `ModeChosen`, then `ToolStep`s (AGENTIC), then
`AnswerDelta`s whose concatenation is the clean answer, then `AnswerDone`. It raises
`core.errors.LlmUnavailable` / `LlmTimeout` when the LLM endpoint fails, possibly after some
events were already yielded.
"""

import time
from collections.abc import Iterator, Sequence
from typing import Literal

from django.conf import settings

from agent.backends import AgenticInput, FastInput, get_backend
from agent.citations import StreamCleaner, cited_sources
from agent.events import AgentEvent, AnswerDelta, AnswerDone, Mode, ModeChosen, ToolStep, Turn
from agent.extractive import NOTHING_FOUND
from agent.retrieval import (
    LOOKUP_PAGES_READ,
    evidence_of,
    is_relevant,
    not_in_library,
    page_weights,
    scope_choose,
    search_pages,
)
from agent.router import route
from agent.tools import Toolbox
from core.errors import InvalidRequest
from library.selectors import parts_unknown_to_library
from orgs.models import Organization
from topics.models import Topic

RequestedMode = Literal["AUTO", "FAST", "AGENTIC"]


def answer_stream(
    *,
    org: Organization,
    query: str,
    mode: RequestedMode = "AUTO",
    history: Sequence[Turn] = (),
    topics: Sequence[Topic] | None = None,
) -> Iterator[AgentEvent]:
    """Answer `query` over the org's library (within `topics` if given), streaming events."""
    query = (query or "").strip()
    if not query:
        raise InvalidRequest("The question is empty.", details={"query": ["This field may not be blank."]})
    if mode not in ("AUTO", "FAST", "AGENTIC"):
        raise InvalidRequest("Unknown mode.", details={"mode": [f"{mode!r} is not one of AUTO, FAST, AGENTIC."]})
    started = time.perf_counter()
    timings: dict[str, float] = {}
    scope = scope_choose(org=org, query=query, history=history, topics=topics)
    chosen: Mode = route(query=query, named_documents=scope.named_in_query).mode if mode == "AUTO" else mode
    timings["scope_ms"] = _ms(started)
    yield ModeChosen(mode=chosen, topics=scope.topic_names)
    unknown = [] if scope.named_in_query else parts_unknown_to_library(org=org, text=query)
    if unknown:
        text = not_in_library(org=org, query=query, parts=unknown, topic_ids=scope.topic_ids)
        yield AnswerDelta(text=text)
        yield AnswerDone(answer=text, sources=(), mode=chosen, topics=scope.topic_names, timings=timings)
        return

    backend = get_backend()
    cleaner = StreamCleaner()
    raw = ""
    steps: list[ToolStep] = []
    if chosen == "FAST":
        retrieval_started = time.perf_counter()
        retrieved = search_pages(
            org=org, query=query, topic_ids=scope.topic_ids, document_ids=scope.document_ids, limit=LOOKUP_PAGES_READ
        )
        evidence = [evidence_of(page) for page in retrieved.pages]
        relevant = bool(retrieved.pages) and is_relevant(retrieved.pages[0])
        timings["retrieval_ms"] = _ms(retrieval_started)
        generation_started = time.perf_counter()
        job = FastInput(
            question=query,
            history=history,
            evidence=evidence,
            terms=retrieved.terms,
            page_weights=page_weights(retrieved.pages),
            relevant=relevant,
        )
        for piece in backend.answer_fast(job):
            raw += piece
            clean = cleaner.feed(piece)
            if clean:
                yield AnswerDelta(text=clean)
        timings["generation_ms"] = _ms(generation_started)
    else:
        toolbox = Toolbox(org=org, scope=scope)
        evidence = toolbox.evidence  # filled as the tools run
        loop_started = time.perf_counter()
        agentic = AgenticInput(
            question=query,
            history=history,
            toolbox=toolbox,
            documents=scope.documents,
            max_steps=settings.AGENT_MAX_STEPS,
        )
        for item in backend.answer_agentic(agentic):
            if isinstance(item, ToolStep):
                steps.append(item)
                yield item
                continue
            raw += item
            clean = cleaner.feed(item)
            if clean:
                yield AnswerDelta(text=clean)
        timings["agent_ms"] = _ms(loop_started)

    rest = cleaner.finish()
    if rest:
        yield AnswerDelta(text=rest)
    answer = cleaner.emitted
    if not answer:
        answer = NOTHING_FOUND
        yield AnswerDelta(text=answer)
    timings["total_ms"] = _ms(started)
    yield AnswerDone(
        answer=answer,
        sources=cited_sources(raw, evidence),
        mode=chosen,
        topics=scope.topic_names,
        timings=timings,
        steps=tuple(steps),
    )


def answer(
    *,
    org: Organization,
    query: str,
    mode: RequestedMode = "AUTO",
    history: Sequence[Turn] = (),
    topics: Sequence[Topic] | None = None,
) -> AnswerDone:
    """`answer_stream` run to its end: the final result only."""
    done: AnswerDone | None = None
    for event in answer_stream(org=org, query=query, mode=mode, history=history, topics=topics):
        if isinstance(event, AnswerDone):
            done = event
    assert done is not None  # answer_stream always ends with AnswerDone or raises
    return done


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
