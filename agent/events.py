"""What the answering pipeline yields, step by step, and what it finally returns.

The chat API forwards these unchanged as SSE events: `ModeChosen` → `meta` (with the chat's
id and url added), `ToolStep` → `step`, `AnswerDelta` → `delta`, `AnswerDone` → `done`.
"""

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["FAST", "AGENTIC"]


@dataclass(frozen=True)
class Source:
    """One cited page. `passages` are the cited chunks' texts, for highlighting on the library page."""

    source_name: str
    page: int
    document_id: int
    chunk_ids: tuple[int, ...] = ()
    passages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    """A previous message of the thread, oldest first."""

    role: Literal["user", "assistant"]
    content: str
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True)
class ModeChosen:
    mode: Mode
    topics: tuple[str, ...]  # names of the topics the answer will search; () = whole library


@dataclass(frozen=True)
class ToolStep:
    tool: str
    input: dict
    result: str  # a short summary, e.g. "5 passages from 2 documents"


@dataclass(frozen=True)
class AnswerDelta:
    text: str  # the next piece of the clean answer (no citation markers)


@dataclass(frozen=True)
class AnswerDone:
    answer: str  # the clean answer: no markers, tags or citation markup
    sources: tuple[Source, ...]  # de-duplicated, in order of first citation
    mode: Mode
    topics: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    steps: tuple[ToolStep, ...] = ()


AgentEvent = ModeChosen | ToolStep | AnswerDelta | AnswerDone
