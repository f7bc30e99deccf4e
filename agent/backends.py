"""LLM backends behind one interface, chosen by `settings.LLM_BACKEND`.

A backend does two things: write a FAST answer from a given evidence list, and drive the
AGENTIC tool loop. Both yield raw text that cites the evidence with `[n]` markers (the
caller cleans it); the tool loop also yields a `ToolStep` per tool call.

- `extractive`: no model; copies the best-matching lines (agent.extractive / agent.planner).
- `openai`: any OpenAI-compatible Chat Completions endpoint, through the official client,
  with token streaming, tool calling, a timeout and bounded retries.
- `scripted`: replays a script of tool calls and answers, for tests.
"""

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx2  # the openai client's transport: its errors can surface mid-stream
from django.conf import settings

from agent import planner
from agent.events import ToolStep, Turn
from agent.extractive import NOTHING_FOUND, render, select_lookup
from agent.tools import TOOL_SPECS, Toolbox
from core.errors import LlmTimeout, LlmUnavailable
from library.models import Document
from library.search import CitedPage, QueryTerms

_HISTORY_TURNS = 6


@dataclass
class FastInput:
    question: str
    history: Sequence[Turn]
    evidence: list[CitedPage]
    terms: QueryTerms
    page_weights: list[float]
    relevant: bool  # retrieval found something that plausibly answers the question


@dataclass
class AgenticInput:
    question: str
    history: Sequence[Turn]
    toolbox: Toolbox
    documents: list[Document]  # documents the question (or thread) names
    max_steps: int
    phrases: dict[int, str] = field(default_factory=dict)  # document id → what the question calls it


class Backend(Protocol):
    def answer_fast(self, job: FastInput) -> Iterator[str]: ...

    def answer_agentic(self, job: AgenticInput) -> Iterator[ToolStep | str]: ...


class ExtractiveBackend:
    def answer_fast(self, job: FastInput) -> Iterator[str]:
        text = ""
        if job.relevant:
            selection = select_lookup(terms=job.terms, evidence=job.evidence, page_weights=job.page_weights)
            text = render(selection=selection, evidence=job.evidence)
        yield from _pieces(text or NOTHING_FOUND)

    def answer_agentic(self, job: AgenticInput) -> Iterator[ToolStep | str]:
        for item in planner.run(
            question=job.question,
            documents=job.documents,
            toolbox=job.toolbox,
            max_steps=job.max_steps,
            phrases=job.phrases,
        ):
            if isinstance(item, str):
                yield from _pieces(item)
            else:
                yield item


def _pieces(text: str) -> Iterator[str]:
    """Stream a finished text line by line, as a model would stream it."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        yield line + ("\n" if index < len(lines) - 1 else "")


# --- openai -------------------------------------------------------------------------------

SYSTEM_PROMPT = (
    "You answer questions about electronic component datasheets for engineers. Use only the "
    "numbered evidence you are given or that your tools return. After every statement, cite the "
    "evidence it comes from with its number in square brackets, e.g. [1] or [2][3]. Be short and "
    "exact: give values with their units and conditions. If the evidence does not answer the "
    "question, say plainly that the library has nothing relevant; never guess."
)
AGENT_PROMPT = (
    " Use the tools to find evidence: search_library for passages (split comparisons and "
    "multi-part questions into one search per part), read_page for a whole page or the next page "
    "of a table. Every passage returned is numbered; cite those numbers in your final answer."
)


def _history_messages(history: Sequence[Turn]) -> list[dict[str, Any]]:
    return [{"role": turn.role, "content": turn.content} for turn in list(history)[-_HISTORY_TURNS:]]


def _evidence_block(evidence: Sequence[CitedPage]) -> str:
    return "\n\n".join(
        f"[{number}] {item.source_name}, page {item.page}:\n{item.text[:2500]}"
        for number, item in enumerate(evidence, start=1)
    )


class OpenAiBackend:
    def __init__(self) -> None:
        import openai

        self._openai = openai
        try:
            self.client = openai.OpenAI(
                base_url=settings.LLM_BASE_URL or None,
                api_key=settings.LLM_API_KEY or "not-needed",
                timeout=settings.LLM_TIMEOUT_S,
                max_retries=settings.LLM_MAX_RETRIES,
            )
        except openai.OpenAIError as exc:
            raise LlmUnavailable(f"The language model client could not be set up: {exc}") from exc

    def answer_fast(self, job: FastInput) -> Iterator[str]:
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            *_history_messages(job.history),
            {
                "role": "user",
                "content": f"Evidence:\n\n{_evidence_block(job.evidence) or '(none found)'}\n\n"
                f"Question: {job.question}",
            },
        ]
        for kind, value in self._stream(messages, tools=False):
            if kind == "text":
                yield value

    def answer_agentic(self, job: AgenticInput) -> Iterator[ToolStep | str]:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT + AGENT_PROMPT},
            *_history_messages(job.history),
            {"role": "user", "content": job.question},
        ]
        for step in range(job.max_steps + 1):
            calls: list[dict[str, Any]] = []
            text = ""
            for kind, value in self._stream(messages, tools=step < job.max_steps):
                if kind == "text":
                    text += value
                    yield value
                else:
                    calls = value
            if not calls:
                return
            messages.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [
                        {
                            "id": c["id"],
                            "type": "function",
                            "function": {"name": c["name"], "arguments": c["arguments"]},
                        }
                        for c in calls
                    ],
                }
            )
            for call in calls:
                result = job.toolbox.call(call["name"], call["arguments"])
                yield result.step
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": result.text})

    def _stream(self, messages: list[dict[str, Any]], *, tools: bool) -> Iterator[tuple[str, Any]]:
        """("text", piece) for each streamed piece, then ("tools", calls) if the model called tools."""
        openai = self._openai
        kwargs: dict[str, Any] = {"model": settings.LLM_MODEL or "default", "messages": messages, "stream": True}
        if tools:
            kwargs["tools"] = TOOL_SPECS
        calls: dict[int, dict[str, Any]] = {}
        try:
            stream = self.client.chat.completions.create(**kwargs)
            for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta is None:
                    continue
                if delta.content:
                    yield "text", delta.content
                for call in delta.tool_calls or []:
                    entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    if call.id:
                        entry["id"] = call.id
                    if call.function is not None:
                        entry["name"] += call.function.name or ""
                        entry["arguments"] += call.function.arguments or ""
        except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
            raise LlmTimeout() from exc
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            raise LlmUnavailable() from exc
        if calls:
            ordered = [calls[index] for index in sorted(calls)]
            for number, entry in enumerate(ordered):
                entry["id"] = entry["id"] or f"call_{number}"
            yield "tools", ordered


# --- scripted -----------------------------------------------------------------------------

_script_lock = threading.Lock()
_script: list[dict[str, Any]] = []


@contextmanager
def scripted_responses(steps: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Run the `scripted` backend on `steps`, in order, within the block.

    A step is {"tool": name, "input": {...}} (a tool call), {"answer": text} (streamed in
    words), or {"error": "timeout" | "unavailable"} (the endpoint failing).
    """
    with _script_lock:
        _script[:] = [dict(step) for step in steps]
    try:
        yield _script
    finally:
        with _script_lock:
            _script.clear()


def _next_step() -> dict[str, Any]:
    with _script_lock:
        if not _script:
            raise LlmUnavailable("The scripted backend has no step left.")
        return _script.pop(0)


class ScriptedBackend:
    def answer_fast(self, job: FastInput) -> Iterator[str]:
        step = _next_step()
        yield from self._answer(step)

    def answer_agentic(self, job: AgenticInput) -> Iterator[ToolStep | str]:
        for _ in range(job.max_steps + 1):
            step = _next_step()
            if "tool" not in step:
                yield from self._answer(step)
                return
            yield job.toolbox.call(step["tool"], json.dumps(step.get("input", {}))).step
        yield from self._answer(_next_step())

    def _answer(self, step: dict[str, Any]) -> Iterator[str]:
        if step.get("error") == "timeout":
            raise LlmTimeout()
        if step.get("error"):
            raise LlmUnavailable()
        text = str(step.get("answer", ""))
        words = text.split(" ")
        for index, word in enumerate(words):
            yield word + (" " if index < len(words) - 1 else "")


def get_backend() -> Backend:
    name = settings.LLM_BACKEND
    if name == "openai":
        return OpenAiBackend()
    if name == "scripted":
        return ScriptedBackend()
    return ExtractiveBackend()
