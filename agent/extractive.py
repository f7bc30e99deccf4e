"""The extractive answerer: the evidence's best-matching lines and sentences, cited.

No model: every statement is a line or sentence copied from a cited page, chosen for the
question's terms (weighted by how rare they are in the library) and the page's rank. When no
page matches the question well enough, it says so instead of quoting something unrelated.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.citations import Evidence
from library.selectors import QueryTerms, text_lexemes

NOTHING_FOUND = "I found nothing relevant to this question in the library."

_SENTENCE = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(])")
_DIGIT = re.compile(r"\d")
_MAX_UNIT_CHARS = 320
# A unit must hold at least this share of the question's (IDF-weighted) terms.
_MIN_COVERAGE = 0.18


@dataclass
class Unit:
    evidence_index: int  # 0-based position in the evidence list
    line_index: int
    text: str
    lexemes: set[str]
    score: float = 0.0


def _units(evidence_index: int, text: str) -> list[Unit]:
    units: list[Unit] = []
    lines = [line for line in text.split("\n") if line.strip()]
    for index, line in enumerate(lines):
        pieces = [line] if len(line) <= _MAX_UNIT_CHARS else _SENTENCE.split(line)
        for piece in pieces:
            piece = piece.strip()
            if len(piece) >= 3:
                units.append(Unit(evidence_index=evidence_index, line_index=index, text=piece[:600], lexemes=set()))
    return units


def _with_context(unit: Unit, lines: list[str]) -> str:
    """A table row flattened by the PDF often puts the value on the next line: keep it."""
    text = unit.text
    following = lines[unit.line_index + 1] if unit.line_index + 1 < len(lines) else ""
    if len(text) < 90 and following and len(following) < 120 and unit.text == lines[unit.line_index]:
        text = f"{text} {following}"
    return text


@dataclass
class Selection:
    units: list[Unit]
    coverage: float


def select_units(
    *, terms: QueryTerms, evidence: Sequence[Evidence], page_weights: Sequence[float], max_units: int = 3
) -> Selection:
    """Greedy choice of the lines that together cover most of the question's terms."""
    weights = terms.weights
    total = sum(weights.values())
    if not total or not evidence:
        return Selection(units=[], coverage=0.0)
    units = [unit for index, item in enumerate(evidence) for unit in _units(index, item.text)]
    for unit, lexemes in zip(units, text_lexemes(texts=[u.text for u in units]), strict=True):
        unit.lexemes = lexemes & set(weights)
        own = sum(weights[lex] for lex in unit.lexemes) / total
        value_bonus = 0.05 if _DIGIT.search(unit.text) else 0.0
        unit.score = own + value_bonus + 0.25 * page_weights[unit.evidence_index]
    chosen: list[Unit] = []
    covered: set[str] = set()
    while len(chosen) < max_units:
        best, best_gain = None, 0.0
        for unit in units:
            if unit in chosen or sum(weights[lex] for lex in unit.lexemes) / total < _MIN_COVERAGE:
                continue
            new = sum(weights[lex] for lex in unit.lexemes - covered) / total
            gain = unit.score + (1.5 * new if chosen else 0.0)
            if chosen and new < 0.08:
                continue  # adds nothing the answer does not already say
            if gain > best_gain:
                best, best_gain = unit, gain
        if best is None:
            break
        chosen.append(best)
        covered |= best.lexemes
    coverage = sum(weights[lex] for lex in covered) / total
    return Selection(units=chosen, coverage=coverage)


def compose(
    *,
    terms: QueryTerms,
    evidence: Sequence[Evidence],
    page_weights: Sequence[float],
    max_units: int = 3,
    label: str | None = None,
    numbers: Sequence[int] | None = None,
) -> str:
    """An answer of copied lines, each followed by the marker of its evidence page; '' if none.

    `numbers` are the evidence items' numbers in the answer's evidence list (default 1..n).
    """
    selection = select_units(terms=terms, evidence=evidence, page_weights=page_weights, max_units=max_units)
    return render(selection=selection, evidence=evidence, label=label, numbers=numbers)


def render(
    *,
    selection: Selection,
    evidence: Sequence[Evidence],
    label: str | None = None,
    numbers: Sequence[int] | None = None,
) -> str:
    if not selection.units:
        return ""
    numbers = list(numbers) if numbers is not None else list(range(1, len(evidence) + 1))
    lines_of = {index: [line for line in item.text.split("\n") if line.strip()] for index, item in enumerate(evidence)}
    parts = []
    for unit in selection.units:
        text = _with_context(unit, lines_of[unit.evidence_index]).strip()
        if not text.endswith((".", ";", ":", "?", "!")):
            text += "."
        parts.append(f"{text} [{numbers[unit.evidence_index]}]")
    body = "\n".join(parts)
    return f"{label}: {body}" if label else body
