"""The answering pipeline: a question in, a stream of events out, ending with the cited answer.

`answer_stream` is the one entry point the chat API and the chat pages call. It knows
nothing of HTTP or chat storage: it yields `ModeChosen`, then `ToolStep`s (AGENTIC), then
`AnswerDelta`s whose concatenation is the clean answer, then `AnswerDone`. It raises
`core.errors.LlmUnavailable` / `LlmTimeout` when the LLM endpoint fails, possibly after some
events were already yielded.
"""

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.conf import settings

from agent.backends import AgenticInput, Backend, FastInput, get_backend
from agent.citations import StreamCleaner, cited_sources
from agent.events import AgentEvent, AnswerDelta, AnswerDone, Mode, ModeChosen, ToolStep, Turn
from agent.extractive import LOOKUP_PAGES_READ, NOTHING_FOUND
from agent.router import route
from agent.scope import Scope, scope_choose
from agent.tools import Toolbox
from core.errors import InvalidRequest
from library.search import CitedPage, is_relevant, page_search, page_weights
from library.selectors import parts_unknown_to_library
from orgs.models import Organization
from topics.models import Topic


@dataclass
class _Run:
    """One question being answered: what the backend wrote so far, and the timings."""

    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    cleaner: StreamCleaner = field(default_factory=StreamCleaner)
    raw: str = ""
    evidence: list[CitedPage] = field(default_factory=list)
    steps: list[ToolStep] = field(default_factory=list)

    def written(self, piece: str) -> Iterator[AnswerDelta]:
        """Take a raw piece of the answer; yield the clean text it settles, if any."""
        self.raw += piece
        clean = self.cleaner.feed(piece)
        if clean:
            yield AnswerDelta(text=clean)


def answer_stream(
    *,
    org: Organization,
    query: str,
    mode: str = Mode.AUTO,
    history: Sequence[Turn] = (),
    topics: Sequence[Topic] | None = None,
) -> Iterator[AgentEvent]:
    """Answer `query` over the org's library (within `topics` if given), streaming events."""
    query = (query or "").strip()
    if not query:
        raise InvalidRequest("The question is empty.", details={"query": ["This field may not be blank."]})
    if mode not in Mode.values:
        raise InvalidRequest("Unknown mode.", details={"mode": [f"{mode!r} is not one of AUTO, FAST, AGENTIC."]})
    run = _Run()
    scope = scope_choose(org=org, query=query, history=history, topics=topics)
    chosen = route(query=query, named_documents=scope.named_in_query) if mode == Mode.AUTO else Mode(mode)
    run.timings["scope_ms"] = _ms(run.started)
    yield ModeChosen(mode=chosen, topics=scope.topic_names)
    unknown = [] if scope.named_in_query else parts_unknown_to_library(org=org, text=query)
    if unknown:
        text = not_in_library(org=org, query=query, parts=unknown, topic_ids=scope.topic_ids)
        yield AnswerDelta(text=text)
        yield AnswerDone(answer=text, sources=(), mode=chosen, topics=scope.topic_names, timings=run.timings)
        return
    backend = get_backend()
    if chosen == Mode.FAST:
        yield from _answer_fast(backend, run, org=org, query=query, history=history, scope=scope)
    else:
        yield from _answer_agentic(backend, run, org=org, query=query, history=history, scope=scope)
    yield from _answer_done(run, mode=chosen, scope=scope)


def _answer_fast(
    backend: Backend, run: _Run, *, org: Organization, query: str, history: Sequence[Turn], scope: Scope
) -> Iterator[AgentEvent]:
    """One search, one generation."""
    retrieval_started = time.perf_counter()
    retrieved = page_search(
        org=org,
        query=scope.searched_question(query),
        topic_ids=scope.topic_ids,
        document_ids=scope.document_ids,
        limit=LOOKUP_PAGES_READ,
    )
    run.evidence = [page.copy() for page in retrieved.pages]
    relevant = bool(retrieved.pages) and is_relevant(retrieved.pages[0])
    run.timings["retrieval_ms"] = _ms(retrieval_started)
    generation_started = time.perf_counter()
    job = FastInput(
        question=query,
        history=history,
        evidence=run.evidence,
        terms=retrieved.terms,
        page_weights=page_weights(retrieved.pages),
        relevant=relevant,
    )
    for piece in backend.answer_fast(job):
        yield from run.written(piece)
    run.timings["generation_ms"] = _ms(generation_started)


def _answer_agentic(
    backend: Backend, run: _Run, *, org: Organization, query: str, history: Sequence[Turn], scope: Scope
) -> Iterator[AgentEvent]:
    """The tool loop: the backend searches and reads until it answers or runs out of steps."""
    toolbox = Toolbox(org=org, scope=scope)
    run.evidence = toolbox.evidence  # filled as the tools run
    loop_started = time.perf_counter()
    agentic = AgenticInput(
        question=query,
        history=history,
        toolbox=toolbox,
        documents=scope.documents,
        max_steps=settings.AGENT_MAX_STEPS,
        phrases=scope.phrases,
    )
    for item in backend.answer_agentic(agentic):
        if isinstance(item, ToolStep):
            run.steps.append(item)
            yield item
        else:
            yield from run.written(item)
    run.timings["agent_ms"] = _ms(loop_started)


def _answer_done(run: _Run, *, mode: Mode, scope: Scope) -> Iterator[AgentEvent]:
    """The rest of the clean answer (or the nothing-found sentence), then the cited result."""
    rest = run.cleaner.finish()
    if rest:
        yield AnswerDelta(text=rest)
    answer = run.cleaner.emitted
    if not answer:
        answer = NOTHING_FOUND
        yield AnswerDelta(text=answer)
    run.timings["total_ms"] = _ms(run.started)
    yield AnswerDone(
        answer=answer,
        sources=cited_sources(run.raw, run.evidence),
        mode=mode,
        topics=scope.topic_names,
        timings=run.timings,
        steps=tuple(run.steps),
    )


def not_in_library(*, org: Organization, query: str, parts: Sequence[str], topic_ids: Sequence[int] | None) -> str:
    """The answer to a question about parts no document covers: say so, and name the closest
    datasheets the library has (those whose pages best match the rest of the question)."""
    rest = query
    for part in parts:
        rest = rest.replace(part, " ")
    found = page_search(org=org, query=rest, topic_ids=topic_ids, limit=8).pages
    closest = list(dict.fromkeys(page.source_name for page in found if is_relevant(page)))[:3]
    named = " or ".join(parts)
    text = f"The library has no datasheet for {named}, so I cannot answer from it."
    if closest:
        text += f" The closest datasheets it has: {', '.join(closest)}."
    return text


def answer(
    *,
    org: Organization,
    query: str,
    mode: str = Mode.AUTO,
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
