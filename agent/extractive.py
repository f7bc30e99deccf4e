"""The extractive answerer: the evidence's best-matching lines and sentences, cited.

No model: every statement is a line or sentence copied from a cited page, chosen for the
question's terms (weighted by how rare they are in the library) and the page's rank. When no
page matches the question well enough, it says so instead of quoting something unrelated.
"""

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from library.search import CitedPage, QueryTerms, is_listing_page, text_blocks, text_lexemes
from library.search.text import CELLS, OPEN_END, SENTENCE_BREAK, first_sentence, is_row, shown_cell, shown_cells

NOTHING_FOUND = "I found nothing relevant to this question in the library."

_MAX_UNIT_CHARS = 200
_MAX_LEAD_CHARS = 200
# A sentence holds the terms its paragraph's first sentence names, at this weight.
_LEAD_TERMS_WEIGHT = 0.5
# A short table row is shown with the lines after it, up to about this many characters.
_CONTEXT_CHARS = 160
# What a line ending with a colon announces is shown up to about this many characters.
_LIST_CHARS = 400
# A unit must hold at least this share of the question's (IDF-weighted) terms.
_MIN_COVERAGE = 0.18
# Lines measured for meaning: value-stating lines of the first pages, the most relevant first.
_MEANING_PAGES = 3
_MEANING_LINES = 16
_MEANING_CHARS = 200  # what a line says is in its start; embedding costs grow with length
_MEANING_WEIGHT = 0.65
# A line at least this close in meaning may be chosen with few of the question's words.
_MEANING_FLOOR = 0.5
# A further line costs this much unless it adds terms, and must reach this share of the best.
_REDUNDANCY = 0.25
_FOLLOW_UP_SHARE = 0.6


@dataclass
class Unit:
    evidence_index: int  # 0-based position in the evidence list
    line_index: int
    text: str
    lexemes: set[str]
    score: float = 0.0
    # For a sentence out of a long paragraph: the paragraph's first sentence, which names
    # what the others speak of ("The THRESH_TAP register ..." before "The scale factor is ..."),
    # shown before it when it holds question terms or a value the sentence does not.
    lead: str = ""
    position: int = 0  # the sentence's place in its paragraph
    relevance: float = 0.0  # the (IDF-weighted) share of the question's terms it holds
    similarity: float = 0.0  # closeness in meaning to the question, when measured
    naming: float = 0.0  # the part of the score for naming the parameter in the question's words


def _units(evidence_index: int, text: str) -> list[Unit]:
    units: list[Unit] = []
    for index, block in enumerate(text_blocks(text)):
        # A table row stays whole however long: its cells are not sentences.
        pieces = [block] if len(block) <= _MAX_UNIT_CHARS or is_row(block) else SENTENCE_BREAK.split(block)
        lead = ""
        for position, piece in enumerate(pieces):
            piece = piece.strip()
            if len(piece) < 3:
                continue
            units.append(
                Unit(
                    evidence_index=evidence_index,
                    line_index=index,
                    text=piece[:600],
                    lexemes=set(),
                    lead=lead,
                    position=position,
                )
            )
            if position == 0 and len(pieces) > 1 and len(piece) <= _MAX_LEAD_CHARS and len(piece.split()) >= 3:
                lead = piece  # a few words at least: not the tail of a sentence the layout cut ("W bit.")
    return units


# Words that announce a formula on the next line, and how long such a line is at most.
_ANNOUNCES = re.compile(
    r"\b(?:the following (?:formula|equation|expression)|(?:is|are) (?:given|calculated) by|as follows)\b",
    re.IGNORECASE,
)
_FORMULA_CHARS = 80
# Words that announce steps or a list on the next lines, as a colon does.
_ANNOUNCES_LIST = re.compile(r"\bthe following (?!(?:formula|equation|expression)\b)", re.IGNORECASE)


def _with_context(unit: Unit, blocks: list[str]) -> str:
    """The unit and, for a short one, the lines after it: a table row flattened by the PDF
    puts its condition, value and unit on the next lines ("Start-up time tstartup" … "2 ms").
    A unit that ends with a colon or speaks of "the following" procedure announces what follows
    (the steps, a list): that is added;
    one that announces a formula ("by the following formula") has the formula's line added.
    A row parsed from a ruled table carries its headers and stands alone."""
    text = unit.text
    index = unit.line_index + 1
    if _ANNOUNCES.search(text) and index < len(blocks) and len(blocks[index]) <= _FORMULA_CHARS:
        if blocks[unit.line_index].endswith(text) and not is_row(blocks[index]):
            return f"{text} {blocks[index]}"  # "… by the following formula" / "tOFF ≈ ROSC ⁄ 825"
    if is_row(text):
        return text
    if (text.endswith(":") or _ANNOUNCES_LIST.search(text)) and blocks[unit.line_index].endswith(text):
        while len(text) < _LIST_CHARS and index < len(blocks):
            heading, cells, rest = blocks[index].partition(CELLS)
            # The steps under one heading: the heading once, then each step after a cell break.
            text = f"{text}{CELLS}{rest}" if cells and heading in text else f"{text} {blocks[index]}"
            index += 1
        return text
    if not blocks[unit.line_index].endswith(text):
        return text  # a sentence out of a paragraph stands on its own
    if unit.text == blocks[unit.line_index] and _NUMBERED_HEADING.match(text):
        if index < len(blocks) and not is_row(blocks[index]):  # a heading says nothing alone
            return f"{text}{CELLS}{first_sentence(blocks[index], _MAX_UNIT_CHARS)}"
    if unit.text == blocks[unit.line_index]:
        while len(text) < _CONTEXT_CHARS and index < len(blocks) and len(blocks[index]) < 120:
            text = f"{text} {blocks[index]}"
            index += 1
    if OPEN_END.search(text) and index < len(blocks):
        # Cut mid-sentence by the layout ("... the error warning limit of" / "96."): finish it.
        text = f"{text} {first_sentence(blocks[index], _MAX_UNIT_CHARS)}"
    return text


_VALUE = re.compile(
    r"(?<![\w.])(?:0x[0-9a-f]+|[01]{4,}b?|[0-9a-f]+h|[±+-]?\d+(?:\.\d+)?\s?"
    r"(?:[kmµμunp]?(?:v|a|hz|s|w|b|g|Ω|ohms?)|°c|%|lsb|sps|dps|k?bytes?|bits?|ppm|dbm?))"
    r"(?![\w])",
    re.IGNORECASE,
)


def _value_bonus(text: str, asked: frozenset[str]) -> float:
    """Answers are values: a line that states some (0x76, 1101011b, 69h, 2 ms, 1.71 V) is worth
    more, and one that states a value of the kind the question asks for (a time for "how long")
    more again."""
    bonus = min(_VALUES_BONUS_CAP, 0.05 * len(_VALUE.findall(text)))
    if asked and _states_asked(text, asked):
        bonus += _ASKED_KIND_BONUS
        if _LIMITS.search(text):
            bonus += _LIMITS_BONUS  # a specification table's row: the value with its limits
    return bonus


# A cell under a Min, Typ or Max column ("Max: 2 ms", "Typ.(1): 1.8 V", "MIN TYP MAX: 500 800").
_LIMITS = re.compile(r"(?:^| · )(?:min|typ|max)\b[^:·]{0,20}:", re.IGNORECASE)
_LIMITS_BONUS = 0.1


_ASKED_KIND_BONUS = 0.35
_VALUES_BONUS_CAP = 0.2  # five values or more count alike
# What a value of each kind of quantity looks like, and the words of a question that ask for
# one. Physics and datasheet conventions, not facts of any part.
_NUMBER = r"(?<![\w.])[±+\-−–]?\d+(?:[.,]\d+)?\s?"
KIND_VALUES = {
    "voltage": re.compile(_NUMBER + r"[mµμk]?V\b"),
    "current": re.compile(_NUMBER + r"[mµμnp]?A\b"),
    "time": re.compile(_NUMBER + r"(?:[mµμn]?s|sec|seconds?|minutes?|hours?|years?)\b", re.IGNORECASE),
    "frequency": re.compile(_NUMBER + r"(?:[kMG]?Hz|[kM]?SPS|[kM]?bps)\b"),
    "temperature": re.compile(_NUMBER + r"°C(?!\s?/)"),
    "thermal resistance": re.compile(_NUMBER + r"°C\s?/\s?W\b"),
    "resistance": re.compile(_NUMBER + r"[mkM]?(?:Ω|ohms?)(?!\w)"),
    "power": re.compile(_NUMBER + r"[mµμ]?W\b"),
    "code": re.compile(r"(?<![\w.])(?:0x[0-9a-f]+|[0-9a-f]*\d[0-9a-f]*h|[01]{4,}b?)(?![\w.])", re.IGNORECASE),
    "share": re.compile(_NUMBER + r"(?:%|ppm)"),
    "capacitance": re.compile(_NUMBER + r"[pnµμ]F\b"),
    "size": re.compile(_NUMBER + r"(?:[kKMG]?(?:bytes?|bits?|B)|[KM]bit)\b"),
}
_KIND_WORDS = {
    "voltage": ("volt", "dropout", "headroom"),
    "current": ("current", "draw", "sink", "consum", "leakage", "quiescent"),
    "time": ("time", "long", "delay", "wait", "durat", "period", "latenc", "wake", "startup", "settl", "timeout"),
    "frequency": ("frequenc", "clock", "rate", "speed", "scan", "baud", "bandwidth"),
    "temperature": ("temperatur", "ambient", "hot"),
    "thermal resistance": ("thermal", "junction"),
    "resistance": ("resist", "impedanc"),
    "power": ("dissipat",),
    "code": ("address", "id", "command", "code"),
    "share": ("accura", "toleranc", "error", "efficien", "duty"),
    "capacitance": ("capacit",),
    "size": ("size", "memory", "capacity", "large", "big"),
}


def asked_kinds(terms: QueryTerms) -> frozenset[str]:
    """The kinds of quantity the question's words ask for ("how long" → time); a "reset value"
    or "default value" (of a register or field) is a code ("0011", "0x00")."""
    kinds = kinds_asked_by([*terms.weights, *terms.absent])
    if any(first in ("reset", "default") and second.startswith("value") for first, second in terms.pairs):
        kinds |= {"code"}
    return kinds


def kinds_asked_by(words: Sequence[str]) -> frozenset[str]:
    """The kinds of quantity these (lower-case) words ask for."""
    return frozenset(
        kind for kind, cues in _KIND_WORDS.items() if any(word.startswith(cue) for word in words for cue in cues)
    )


@dataclass
class Selection:
    units: list[Unit]
    coverage: float
    # The first `lead` units (each with the rows of its table) make the answer's first line: the
    # best line, and for a question of several parts the best line of each other part.
    lead: int = 1


def select_units(
    *,
    terms: QueryTerms,
    evidence: Sequence[CitedPage],
    page_weights: Sequence[float],
    max_units: int = 3,
    spread_pages: int = 0,
    value_lines: int = 0,
    meaning: Callable[[list[str]], list[float]] | None = None,
    max_lines: int | None = None,
) -> Selection:
    """Greedy choice of the lines that together cover most of the question's terms.

    Lines are scored on the question's terms they hold (IDF-weighted), the values they state
    and their page's rank; with `meaning` (a line's similarity to the question), the value
    lines of the first pages also on how close they are in meaning, so a line that says it in
    other words ("operating temperature range" for "works at 105 °C ambient") can be chosen.
    (FAST does without: no gain on the dev set, and it multiplied its latency.) A chosen table
    row brings the rows of its table that answer the rest; `max_lines` caps the lines shown.
    """
    weights = terms.weights
    total = sum(weights.values())
    if not total or not evidence:
        return Selection(units=[], coverage=0.0)
    units = _scored_units(terms, evidence, page_weights, meaning)
    chosen, covered = _greedy_choice(units, weights, total, max_units)
    row = _row_restating(units, chosen[0]) if chosen else None
    if row is not None:
        chosen = [row, *(unit for unit in chosen if unit is not row)][:max_units]
        covered |= row.lexemes
    if chosen and spread_pages:
        for unit in _runner_up_pages(units, chosen, page_weights, weights, total, spread_pages):
            chosen.append(unit)
            covered |= unit.lexemes
    if chosen and value_lines:
        for unit in _values_for_the_rest(units, chosen, covered, evidence, weights, total, value_lines):
            chosen.append(unit)
            covered |= unit.lexemes
    chosen = _with_sibling_rows(units, chosen, weights)
    chosen = at_most_lines(chosen, max_lines)
    covered = set().union(*(unit.lexemes for unit in chosen)) if chosen else set()
    coverage = sum(weights[lex] for lex in covered) / total
    return Selection(units=chosen, coverage=coverage)


def _scored_units(
    terms: QueryTerms,
    evidence: Sequence[CitedPage],
    page_weights: Sequence[float],
    meaning: Callable[[list[str]], list[float]] | None,
) -> list[Unit]:
    """Every line and sentence of the evidence, scored on the question's terms it holds, the
    values it states, its page's rank and (with `meaning`) its closeness in meaning."""
    weights = terms.weights
    # Contents pages and revision histories name what the question names without stating it;
    # they are quoted only when nothing ranks above them.
    units = [
        unit
        for index, item in enumerate(evidence)
        if index == 0 or not is_listing_page(item.text)
        for unit in _units(index, item.text)
    ]
    line_weights = [_line_weights(weights, item.identity) for item in evidence]
    asked = asked_kinds(terms)
    leads = list({u.lead for u in units if u.lead})
    # The units' and the leads' lexemes in one round trip to the parser.
    parsed = text_lexemes(texts=[*(u.text for u in units), *leads])
    lead_lexemes = dict(zip(leads, parsed[len(units) :], strict=True))
    for unit, lexemes in zip(units, parsed[: len(units)], strict=True):
        # A sentence speaks of what its paragraph's first sentence names ("The THRESH_TAP
        # register …" before "The scale factor is 62.5 mg/LSB"), and is shown after it.
        said = terms.matched(lexemes)
        unit.lexemes = said | terms.matched(lead_lexemes.get(unit.lead, set()))
        if unit.lexemes == said and not _VALUE.search(unit.lead):
            unit.lead = ""  # it names nothing of the question the sentence does not: not shown
        own = line_weights[unit.evidence_index]
        held = sum(own[lex] for lex in said) + _LEAD_TERMS_WEIGHT * sum(own[lex] for lex in unit.lexemes - said)
        unit.relevance = held / sum(own.values())
        unit.score = unit.relevance + _value_bonus(unit.text, asked) + 0.4 * page_weights[unit.evidence_index]
        if is_row(unit.text):
            named = CELLS.join(unit.text.split(CELLS)[:_NAMING_CELLS])
            unit.naming = _PAIR_BONUS * min(terms.pairs_written(named), _PAIRS_COUNTED)
            unit.score += unit.naming
    if meaning is not None:
        candidates = [u for u in units if u.evidence_index < _MEANING_PAGES and _VALUE.search(u.text)]
        candidates = sorted(candidates, key=lambda u: -u.relevance)[:_MEANING_LINES]
        texts = [u.text[:_MEANING_CHARS] for u in candidates]
        for unit, similarity in zip(candidates, meaning(texts), strict=True):
            unit.similarity = similarity
            unit.score += _MEANING_WEIGHT * similarity
    return units


# A table row whose first cells (its caption and parameter) write words side by side as the
# question does ("Parameter: Output Voltage") is a row of what the question names; each such
# pair, up to a few, adds this to its score.
_PAIR_BONUS = 0.1
_PAIRS_COUNTED = 2
_NAMING_CELLS = 2


def _line_weights(weights: dict[str, float], identity: frozenset[str]) -> dict[str, float]:
    """The question's term weights for choosing a line of one document: the terms that name
    the document (its part number, "Li-ion charger") tell which document, not which line."""
    own = {lex: weight * (_IDENTITY_WEIGHT if lex in identity else 1.0) for lex, weight in weights.items()}
    return own if sum(own.values()) > 0 else weights


_IDENTITY_WEIGHT = 0.25


def _greedy_choice(
    units: list[Unit], weights: dict[str, float], total: float, max_units: int
) -> tuple[list[Unit], set[str]]:
    """Up to `max_units` lines, each the best gain over the terms the ones before it hold."""
    chosen: list[Unit] = []
    covered: set[str] = set()
    while len(chosen) < max_units:
        best, best_gain = None, 0.0
        for unit in units:
            if unit in chosen or (unit.relevance < _MIN_COVERAGE and unit.similarity < _MEANING_FLOOR):
                continue
            new = sum(weights[lex] for lex in unit.lexemes - covered) / total
            # After the first line, a line must add terms or be nearly as good as the best (whose
            # naming of the parameter chose it among rows, and sets no bar for other lines).
            gain = unit.score + (1.5 * new - _REDUNDANCY if chosen else 0.0)
            bar = _FOLLOW_UP_SHARE * (chosen[0].score - chosen[0].naming) if chosen else 0.0
            if gain > best_gain and gain >= bar:
                best, best_gain = unit, gain
        if best is None:
            break
        chosen.append(best)
        covered |= best.lexemes
    return chosen, covered


# A row that states the lead sentence's value leads instead when it holds at least this share
# of what the sentence holds of the question.
_RESTATING_SHARE = 0.5
_STATED = re.compile(
    r"(?<![\w.])(0x[0-9a-f]+|[0-9a-f]*\d[0-9a-f]*h|[±+\-−–]?\d+(?:\.\d+)?)\s?"
    r"([kmµμunp]?(?:v|a|hz|s|w|Ω|ohms?)|°c|%|lsb|sps|bps|ppm|dbm?)?(?![\w])",
    re.IGNORECASE,
)


def _stated_values(text: str) -> set[tuple[str, str]]:
    """The values a text states with their units, written alike ("2.6V" and "Typ: 2.60 V")."""
    values = set()
    for number, unit in _STATED.findall(text):
        if unit:
            number = number.lstrip("+").replace("−", "-").replace("–", "-")
            number = number.rstrip("0").rstrip(".") if "." in number else number
            values.add((number, unit.lower().replace("μ", "µ")))
        elif number.lower().startswith("0x") or number.lower().endswith("h"):
            values.add((number.lower(), "code"))
    return values


def _row_restating(units: list[Unit], lead: Unit) -> Unit | None:
    """A table row that states a value the lead sentence states, on the question's subject: a
    specification table gives the value with its limits and conditions ("Trickle Threshold
    Voltage · Min: 2.45 V · Typ: 2.60 V · Max: 2.75 V" for "below the trickle threshold (2.6V)")."""
    if is_row(lead.text):
        return None
    values = _stated_values(lead.text)
    if not values:
        return None
    rows = [
        unit
        for unit in units
        if is_row(unit.text)
        and unit.relevance >= _RESTATING_SHARE * lead.relevance
        and values & _stated_values(unit.text)
    ]
    return max(rows, key=lambda unit: unit.score, default=None)


# A chosen row is shown with at most this many other rows of its table; a table of at most
# _SMALL_TABLE rows is shown whole.
_SIBLING_ROWS = 2
_SIBLING_NEW_SHARE = 0.08  # of the question's weight: what a further row must add
_SMALL_TABLE = 4


def _with_sibling_rows(units: list[Unit], chosen: list[Unit], weights: dict[str, float]) -> list[Unit]:
    """The chosen lines, each chosen row followed by the rows of its table that belong beside it."""
    out: list[Unit] = []
    for unit in chosen:
        if unit in out:
            continue
        out.append(unit)
        if is_row(unit.text):
            held = set().union(*(u.lexemes for u in out))
            siblings = _sibling_rows(units, unit, weights, held=held, alike=unit is chosen[0])
            out += [row for row in siblings if row not in out]
    return out


def _sibling_rows(
    units: list[Unit], best: Unit, weights: dict[str, float], *, held: set[str], alike: bool
) -> list[Unit]:
    """Rows of the best row's table that belong beside it: a small table's every row; else, one
    at a time, those adding terms of the question that neither the lines before (`held`) nor
    the rows added so far hold (the other half of "its sleep current and its start-up time");
    then, with `alike` (for the answer's best row), the rows right after it that hold the same
    terms (a table the question's words cannot tell apart: "LSB size at the default
    setting"), in table order."""
    rows = [u for u in units if u is not best and _same_table(u, best)]
    if len(rows) < _SMALL_TABLE:
        return rows
    total = sum(weights.values()) or 1.0
    held = set(held)
    adding: list[Unit] = []
    while len(adding) < _SIBLING_ROWS:
        gains = [(sum(weights[lex] for lex in u.lexemes - held) / total, u) for u in rows if u not in adding]
        gain, row = max(gains, key=lambda pair: (pair[0], pair[1].relevance), default=(0.0, None))
        if row is None or gain < _SIBLING_NEW_SHARE:
            break
        adding.append(row)
        held |= row.lexemes
    for unit in sorted(rows, key=lambda u: u.line_index) if alike else []:
        if len(adding) >= _SIBLING_ROWS:
            break
        if unit.line_index > best.line_index and unit not in adding and unit.lexemes == best.lexemes:
            adding.append(unit)
    return adding


def at_most_lines(units: list[Unit], lines: int | None) -> list[Unit]:
    """The units of the first `lines` lines of the answer (rows of one table make one line)."""
    if lines is None:
        return units
    heads: list[Unit] = []
    kept: list[Unit] = []
    for unit in units:
        if any(_same_table(unit, head) for head in heads):
            kept.append(unit)
        elif len(heads) < lines:
            heads.append(unit)
            kept.append(unit)
    return kept


# A supporting line is shown when it adds to the lines before it: question terms worth at least
# _SUPPORT_WORDS_SHARE of the question, or _SUPPORT_NEW_SHARE with a value; a value of the kind
# asked when they state none; or words of another document than theirs.
_SUPPORT_NEW_SHARE = 0.05
_SUPPORT_WORDS_SHARE = 0.12
# A number standing alone ("10 years", "1k"), not part of a name ("ADC12_IN16", "SOT-223").
_NUMBER_ALONE = re.compile(r"(?<![\w.\-])\d+(?:[.,]\d+)?(?![\w.\-]*\d)")


def adding_lines(units: list[Unit], terms: QueryTerms, evidence: Sequence[CitedPage], lead: int = 1) -> list[Unit]:
    """The answer's first `lead` lines (with the rows of their tables), then only the supporting
    lines that add something to what the lines before them say; a line from another document
    than theirs always does (the other part of a comparison). Once they state a value of the
    kind the question asks for, a line without a number adds only words about it, and a value
    adds only when it is of that kind too."""
    weights = terms.weights
    total = sum(weights.values()) or 1.0
    asked = asked_kinds(terms)
    heads: list[Unit] = []
    kept: list[Unit] = []
    held: set[str] = set()
    stated = False
    for unit in units:
        states = _states_asked(unit.text, asked)
        if not any(_same_table(unit, head) for head in heads):
            new = sum(weights[lex] for lex in unit.lexemes - held) / total
            numbered = _NUMBER_ALONE.search(unit.text) is not None
            answered = bool(asked) and stated  # the lines before state a value of the kind asked
            valued = states if answered else _VALUE.search(unit.text) is not None
            adds = (new >= _SUPPORT_WORDS_SHARE and (numbered or not answered)) or (
                new >= _SUPPORT_NEW_SHARE and valued
            )
            document = evidence[unit.evidence_index].document_id
            adds = adds or all(evidence[head.evidence_index].document_id != document for head in heads)
            if len(heads) >= lead and not adds and not (states and not stated):
                continue
            heads.append(unit)
        kept.append(unit)
        held |= unit.lexemes
        stated = stated or states
    return kept


def _states_asked(text: str, asked: frozenset[str]) -> bool:
    """Whether a text states a value of a kind the question asks for (any value, when it asks
    for no kind)."""
    if asked:
        return any(KIND_VALUES[kind].search(text) for kind in asked)
    return bool(_VALUE.search(text))


# A line that states a value for terms of the question no chosen line holds yet is added when
# those terms are at least this share of the question.
_REST_SHARE = 0.05


def _values_for_the_rest(
    units: list[Unit],
    chosen: list[Unit],
    covered: set[str],
    evidence: Sequence[CitedPage],
    weights: dict[str, float],
    total: float,
    value_lines: int,
) -> list[Unit]:
    """Lines that answer the part of the question the chosen lines left out.

    A question often asks two things ("its sleep current, and its start-up time"); the
    greedy choice favours lines holding many terms, so the other part's table row, a short
    label whose value sits on the next lines ("Sleep current IDDSL" / "0.1 0.3 μA"), loses.
    Such a row is added, from a page already cited, when it holds terms no chosen line does
    and states a value itself or on its next lines.
    """
    pages = {unit.evidence_index for unit in chosen}
    blocks = {index: text_blocks(evidence[index].text) for index in pages}
    added: list[Unit] = []
    covered = set(covered)
    for _ in range(value_lines):
        best, best_new = None, _REST_SHARE
        for unit in units:
            if unit.evidence_index not in pages or unit in chosen or unit in added:
                continue
            new = sum(weights[lex] for lex in unit.lexemes - covered) / total
            if new < best_new:
                continue
            if not _VALUE.search(_with_context(unit, blocks[unit.evidence_index])):
                continue
            best, best_new = unit, new
        if best is None:
            break
        added.append(best)
        covered |= best.lexemes
    return added


# A runner-up page is cited when its best line holds at least this share of the question's
# (IDF-weighted) terms and at least this share of what the best chosen line holds.
_RUNNER_UP_COVERAGE = 0.25
_RUNNER_UP_SHARE = 0.5


def _runner_up_pages(
    units: list[Unit],
    chosen: list[Unit],
    page_weights: Sequence[float],
    weights: dict[str, float],
    total: float,
    spread_pages: int,
) -> list[Unit]:
    """The best line of each close runner-up page the greedy choice left uncited.

    The page ranking puts the right page among its first few far more often than first; when
    the chosen lines state no value, a page that scores near the top one and has a line
    holding the question's terms and a value is quoted too (after the greedy lines, so the
    first citation stays the top page's). When they do state one, another page's line
    only makes the answer longer: measured, it lost no keyword on any question set.
    """
    if any(_VALUE.search(unit.text) for unit in chosen):
        return []
    cited = {unit.evidence_index for unit in chosen}
    best_own = max(sum(weights[lex] for lex in u.lexemes) / total for u in chosen)
    floor = max(_RUNNER_UP_COVERAGE, _RUNNER_UP_SHARE * best_own)
    added: list[Unit] = []
    for index in range(len(page_weights)):
        if len(cited) >= spread_pages:
            break
        if index in cited:
            continue
        candidates = [u for u in units if u.evidence_index == index]
        if not candidates:
            continue
        best = max(candidates, key=lambda u: u.score)
        own = sum(weights[lex] for lex in best.lexemes) / total
        if own >= floor and _VALUE.search(best.text):
            added.append(best)
            cited.add(index)
    return added


# Pages a look-up answer reads: FAST's one search, and AGENTIC's search of the whole question.
LOOKUP_PAGES_READ = 5
# A look-up answer (FAST, and the first part of AGENTIC's): at most this many lines chosen
# greedily, then close runner-up pages up to this many cited pages, then value-stating lines
# for the question's terms still uncovered.
LOOKUP_LINES = 3
LOOKUP_PAGES = 4
LOOKUP_VALUE_LINES = 1
# Lines a look-up answer shows: the best one and a few supporting ones.
LOOKUP_MAX_LINES = 3


def select_lookup(
    *, terms: QueryTerms, evidence: Sequence[CitedPage], page_weights: Sequence[float], pages: int = LOOKUP_PAGES
) -> Selection:
    """The lines of a look-up answer to the question of `terms` from ranked `evidence`, citing
    at most `pages` pages."""
    selection = select_units(
        terms=terms,
        evidence=evidence,
        page_weights=page_weights,
        max_units=LOOKUP_LINES,
        spread_pages=pages,
        value_lines=LOOKUP_VALUE_LINES,
        max_lines=LOOKUP_MAX_LINES,
    )
    return replace(selection, units=adding_lines(selection.units, terms, evidence))


def render(
    *,
    selection: Selection,
    evidence: Sequence[CitedPage],
    label: str | None = None,
    numbers: Sequence[int] | None = None,
) -> str:
    if not selection.units:
        return ""
    numbers = list(numbers) if numbers is not None else list(range(1, len(evidence) + 1))
    lines_of = {index: text_blocks(item.text) for index, item in enumerate(evidence)}
    parts: list[str] = []
    shown: set[str] = set()
    # The lead first (it answers; its first page is the first source), then the others in
    # page-rank order, so supporting lines read in the order their pages rank; rows of one
    # table make one line.
    lead = selection.units[: max(1, selection.lead)]
    rest = sorted(selection.units[len(lead) :], key=lambda u: (u.evidence_index, u.line_index, u.position))
    groups: list[list[Unit]] = []
    for unit in [*lead, *rest]:
        group = next((g for g in groups if _same_table(unit, g[0])), None)
        if group is None:
            groups.append([unit])
        else:
            group.append(unit)
    said: list[str] = []  # what the lines so far quote
    titles: list[str] = []  # the captions and headings the lines so far begin with
    for group in groups:
        unit = group[0]
        if is_row(unit.text):
            text = _rows_together([u.text for u in sorted(group, key=lambda u: u.line_index)])
        else:
            text = _with_context(unit, lines_of[unit.evidence_index]).strip()
        text = _without_quoted(text, said)
        if len(text) < 3 or any(text in quoted for quoted in said):  # said holds all that was shown
            continue
        if unit.lead and unit.lead not in shown:
            text = f"{unit.lead} … {text}"
            shown.add(unit.lead)
        if not is_row(unit.text) and (heading := _numbered_heading_before(unit, lines_of[unit.evidence_index])):
            if heading not in shown:
                text = f"{heading} · {text}"  # "5.4.2 Register 0xE0 “reset” · The “reset” register …"
                shown.add(heading)
        text = _without_repeated_titles(text, titles)
        shown.add(text)
        if not text.endswith((".", ";", ":", "?", "!")):
            text += "."
        said.append(text)
        if unit not in lead:
            text = _clipped(text, _SUPPORT_CHARS)
        line = f"{text} [{numbers[unit.evidence_index]}]"
        if parts and unit in lead:
            parts[0] = f"{parts[0]} {line}"  # another part of the question, answered on the first line
        else:
            parts.append(line)
    body = "\n".join(parts)
    return f"{label}: {body}" if label else body


def _without_repeated_titles(text: str, titles: list[str]) -> str:
    """The text without a caption or heading the answer already shows ("Table 5. Temperature
    sensor characteristics · " before each of its rows and notes); a new one is noted in
    `titles`. A title is a first cell that names no column ("header: value" cells do)."""
    for title in titles:
        if text.startswith(f"{title}{CELLS}"):
            text = text[len(title) + len(CELLS) :]
    title, cells, rest = text.partition(CELLS)
    if cells and ": " not in title and len(title) >= _MIN_TITLE_CHARS and title not in titles:
        titles.append(title)
    else:
        title, rest = "", text
    for known in titles:
        rest = rest.replace(f"{known}{CELLS}", "")
    return f"{title}{CELLS}{rest}" if title else rest


_MIN_TITLE_CHARS = 8


def _without_quoted(text: str, said: list[str]) -> str:
    """The text without what earlier lines of the answer already quote: a short line shown with
    the lines after it can take in a line chosen on its own, and a sentence finished from the
    next page ends with what that page's first line begins with."""
    cut = text
    for quoted in said:
        core = quoted.removesuffix(".")
        if core and core in cut:
            cut = cut.replace(core, " ", 1)
        elif (overlap := _overlap(core, cut)) >= _MIN_OVERLAP:
            cut = cut[overlap:]
    return text if cut == text else re.sub(r"\s{2,}", " ", cut).strip(" .;·")


_MIN_OVERLAP = 12


def _overlap(earlier: str, later: str) -> int:
    """The length of the longest end of `earlier` that `later` begins with, in whole words."""
    for start in range(max(0, len(earlier) - len(later)), len(earlier) - _MIN_OVERLAP + 1):
        if (start == 0 or earlier[start - 1] == " ") and later.startswith(earlier[start:]):
            return len(earlier) - start
    return 0


# A supporting line is cut, at a cell or sentence, to about this many characters.
_SUPPORT_CHARS = 400


def _clipped(text: str, limit: int) -> str:
    """The text cut after its last cell, row or sentence that ends within `limit` characters."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(" · "), head.rfind("; "), head.rfind(". ") + 1)
    return (head[:cut] if cut > limit // 3 else head.rsplit(" ", 1)[0]).rstrip(" ;·.") + " …"


def _same_table(unit: Unit, best: Unit) -> bool:
    """Whether `unit` is another row of the table `best` is a row of: on the same page, under
    the same caption, or without one, under mostly the same column headers."""
    if unit.evidence_index != best.evidence_index or not is_row(unit.text) or not is_row(best.text):
        return False
    first, other = unit.text.split(CELLS), best.text.split(CELLS)
    if ": " not in first[0] or ": " not in other[0]:
        return first[0] == other[0]
    headers, others = _headers(first), _headers(other)
    return headers[0] == others[0] and len(set(headers) & set(others)) >= 0.6 * max(len(headers), len(others))


def _headers(cells: list[str]) -> list[str]:
    return [cell.split(": ", 1)[0] for cell in cells if ": " in cell]


def _rows_together(rows: list[str]) -> str:
    """Rows of one table as one line, rows apart by semicolons: each row without the cells it
    begins with that the row before it begins with too (the caption, a shared parameter) and
    without the other descriptive cells the row before has too (its conditions, "VGS @ 10V"),
    the cells of descriptive columns without their header ("Symbol: VBB" reads "VBB")."""
    cells = [row.rstrip(".").split(CELLS) for row in rows]
    parts = [CELLS.join(shown_cells(cells[0]))]
    for previous, current in itertools.pairwise(cells):
        shared = 0
        while shared + 1 < len(current) and shared < len(previous) and current[shared] == previous[shared]:
            shared += 1
        rest = current[shared:]
        # A descriptive cell the row before has too goes as a ditto; a value is always shown.
        rest = rest[:1] + [cell for cell in rest[1:] if cell not in previous or ": " in shown_cell(cell)]
        parts.append(CELLS.join(shown_cells(rest)))
    return "; ".join(parts)


_NUMBERED_HEADING = re.compile(r"^\d+(?:\.\d+)+\s+\S.{0,70}$")


def _numbered_heading_before(unit: Unit, blocks: list[str]) -> str:
    """The numbered section heading right above the unit's paragraph ("5.4.2 Register 0xE0
    “reset”"), which names what the paragraph speaks of."""
    if unit.line_index == 0:
        return ""
    before = blocks[unit.line_index - 1].strip()
    return before if _NUMBERED_HEADING.match(before) and not before.endswith(".") else ""
