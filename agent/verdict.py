"""A comparison's verdict: which part states the higher or the lower value, when that is certain.

The question says which way it compares ("the faster SPI clock", "the lower quiescent current")
and what kind of quantity; each part's first line states its value. A verdict is given only
when the question's direction is plain, each part's line writes most words the question names
the property with, and states exactly one value of that kind (in the cells of the limit the
question names, "typical", else in its Min cells for "lower" and its Max cells for "higher",
when it has such cells): a line with several values could be compared on the wrong one, and a
wrong verdict is worse than none.
"""

import re
from collections.abc import Sequence

from agent.extractive import KIND_VALUES, kinds_asked_by
from library.search.terms import STOPWORDS, word_forms

# Comparative words that say which way: +1 the higher value wins, -1 the lower. ("Better" and
# "worse" say neither: a better thermal resistance is a lower one, a better accuracy a smaller
# error.)
_DIRECTIONS = {
    **dict.fromkeys(("higher", "faster", "larger", "bigger", "greater", "more", "wider", "longer"), 1),
    **dict.fromkeys(("lower", "slower", "smaller", "fewer", "less", "narrower", "shorter"), -1),
}
# A limit the question names, and the cells that give it ("Typ.(1): 1.8 V", "MAX: 5 MHz").
_LIMIT_WORDS = {"typical": "typ", "typically": "typ", "maximum": "max", "max": "max", "minimum": "min", "min": "min"}
_LIMIT_CELL = r"(?:^|·|;)\s*(?:[\w,+ ]+ )?{limit}\w*\.?(?:\(\d+\))?:\s*([^·;]+)"
_MAGNITUDE = re.compile(r"([±+\-−–]?)(\d+(?:,\d{3})*(?:\.\d+)?)\s?([pnµμumkKMG]?)")
_PREFIX = {"p": 1e-12, "n": 1e-9, "µ": 1e-6, "μ": 1e-6, "u": 1e-6, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}


def comparison_verdict(question: str, parts: Sequence[tuple[str, str, str]]) -> str:
    """For (label, the question as asked of it, its first line) of each part, the sentence saying
    which part wins, or ""."""
    words = _words(question)
    comparatives = [word for word in words if word in _DIRECTIONS]
    kinds = kinds_asked_by(words)
    if len(parts) < 2 or len({_DIRECTIONS[word] for word in comparatives}) != 1 or len(kinds) != 1:
        return ""
    direction = _DIRECTIONS[comparatives[0]]
    (kind,) = kinds
    # The limit the question names, else the one the direction reads: the lower supply voltage
    # a part runs from is its minimum, the faster clock it takes its maximum.
    limit = next((_LIMIT_WORDS[word] for word in words if word in _LIMIT_WORDS), "max" if direction > 0 else "min")
    # The property: the words every part is asked about (each part's question is without the
    # parts' names and descriptions), but for the direction and the limit.
    common = set.intersection(*(set(_words(asked)) for _, asked, _ in parts))
    # Each part's best row or sentence: its line goes on with other rows of the table after "; ".
    parts = [(label, asked, line.split("; ", 1)[0]) for label, asked, line in parts]
    named = common - STOPWORDS - _DIRECTIONS.keys() - _LIMIT_WORDS.keys()
    if not named or not all(_names_most(line, named) for _, _, line in parts):
        return ""  # a line not on the property compared ("CLKOUT" for "SPI clock") decides nothing
    stated = [(label, _one_value(line, kind, limit)) for label, _, line in parts]
    if any(value is None for _, value in stated):
        return ""
    ranked = sorted(stated, key=lambda item: direction * -_magnitude(item[1] or ""))
    (winner, best), rest = ranked[0], ranked[1:]
    if any(_magnitude(value or "") == _magnitude(best or "") for _, value in rest):
        return ""
    against = ", ".join(f"{value} for the {label}" for label, value in rest)
    return f"{comparatives[0].capitalize()}: the {winner} ({best}, against {against})."


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _names_most(line: str, words: set[str]) -> bool:
    """Whether the line writes at least half of the words, each in any of its forms (the verb
    the question asks with, "supports" or "draws", is seldom among them)."""
    written = [word for word in words if re.search(rf"\b{word_forms(word)}", line, re.IGNORECASE)]
    return 2 * len(written) >= len(words)


def _one_value(line: str, kind: str, limit: str) -> str | None:
    """The one value of `kind` the line states (in the cells of `limit` when it has such cells)."""
    pattern = KIND_VALUES[kind]
    cells = [m.group(1) for m in re.finditer(_LIMIT_CELL.format(limit=limit), line, re.IGNORECASE)]
    where = cells or [line]
    values = {re.sub(r"\s+", " ", m.group().strip()) for text in where for m in pattern.finditer(text)}
    magnitudes = {_magnitude(value) for value in values}
    return min(values) if len(magnitudes) == 1 else None


def _magnitude(value: str) -> float:
    """The value in base units: "10 MHz" → 1e7, "900 nA" → 9e-7."""
    match = _MAGNITUDE.search(value)
    if match is None:
        return 0.0
    sign, number, prefix = match.groups()
    magnitude = float(number.replace(",", "")) * _PREFIX.get(prefix, 1.0)
    return -magnitude if sign and sign in "-−–" else magnitude
