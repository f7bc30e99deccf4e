"""What the answering pipeline yields, step by step, and what it finally returns.

The chat API forwards these unchanged as SSE events: `ModeChosen` → `meta` (with the chat's
id and url added), `ToolStep` → `step`, `AnswerDelta` → `delta`, `AnswerDone` → `done`.
"""

from dataclasses import dataclass, field
from typing import Literal

from django.db import models

from library.search import CitedPage


class Mode(models.TextChoices):
    """How a question is answered: AUTO (the router picks) is asked for; FAST or AGENTIC runs."""

    AUTO = "AUTO", "Auto"
    FAST = "FAST", "Fast"
    AGENTIC = "AGENTIC", "Agentic"


@dataclass(frozen=True)
class Turn:
    """A previous message of the thread, oldest first."""

    role: Literal["user", "assistant"]
    content: str
    sources: tuple[CitedPage, ...] = ()


@dataclass(frozen=True)
class ModeChosen:
    mode: Mode  # FAST or AGENTIC
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
    sources: tuple[CitedPage, ...]  # de-duplicated, in order of first citation
    mode: Mode
    topics: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage
    steps: tuple[ToolStep, ...] = ()


AgentEvent = ModeChosen | ToolStep | AnswerDelta | AnswerDone
