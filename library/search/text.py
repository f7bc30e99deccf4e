"""Rules about a page's stored text: chunks joined back into the page, paragraphs, listing pages.

Pure text, no database. Search, the answerer and the library page all read a page through
these, so they agree on where its paragraphs are and which pages only list things.
"""

import re
from collections.abc import Iterable

# A contents line: dot leaders then a page number ("Specifications ... 3"); a ratings list has
# leaders too, but ends in a value ("ICL7660 ... +10.5V").
_LEADER = re.compile(r" \.\.\. \d{1,3}$", re.MULTILINE)
# "Contents", "Table of Contents", "LSM6DS33 List of tables": lists whose page numbers have no leaders.
_CONTENTS_HEADING = re.compile(r"(?:\S+\s+)?(?:table\s+of\s+contents|contents|list\s+of\s+(?:figures|tables))", re.I)
# "Revision History", "14 Revision history", "Appendix C - Revision History", "12. Document history and modification".
_CHANGE_LOG_HEADING = re.compile(
    r"(?:[\w.]{1,4}\s+)?(?:appendix\s+\w\s*[-:–]\s*)?(?:document\s+)?(?:revision|change|modification)s?\s+history"
    r"|(?:[\w.]{1,4}\s+)?document\s+history(?:\s+and\s+modifications?)?",
    re.IGNORECASE,
)
_CHANGE_LINE = re.compile(r"\W{0,3}(?:changed|added|deleted|updated|removed|corrected|revised|moved)\b", re.IGNORECASE)


def page_lines(chunks: Iterable[tuple[int, str]]) -> tuple[list[str], list[set[int]]]:
    """A page's chunks (id and text, in order) as its lines, each with the ids of the chunks
    that hold it. Chunks of a page overlap by a few lines; each line is kept once."""
    lines: list[str] = []
    owners: list[set[int]] = []
    for chunk_id, text in chunks:
        new = text.split("\n")
        overlap = 0
        for size in range(min(len(lines), len(new)), 0, -1):
            if lines[-size:] == new[:size]:
                overlap = size
                break
        for offset in range(overlap):
            owners[len(lines) - overlap + offset].add(chunk_id)
        lines.extend(new[overlap:])
        owners.extend({chunk_id} for _ in new[overlap:])
    return lines, owners


def join_chunks(texts: Iterable[str]) -> str:
    """A page's chunks (in order) joined back into its text, without the overlapping lines."""
    lines, _ = page_lines((0, text) for text in texts)
    return "\n".join(lines)


def text_blocks(text: str) -> list[str]:
    """A page's units: ingestion writes one a line (a table row with its headers, a paragraph)."""
    return [line.strip() for line in text.split("\n") if line.strip()]


# Ingestion writes a table row as "caption · header: value · header: value …".
CELLS = " · "
# Column headers that name what a row is about rather than a value of it.
_DESCRIPTIVE = re.compile(
    r"(?:parameters?|characteristics?|symbols?|\w*descriptions?|(?:test)?conditions?|\w*names?|items?"
    r"|propert(?:y|ies)|features?|comments?|devices?)"
    r"(?:\(\w*\))?",  # "Symbol(1)", "Parameter (condition)"
    re.IGNORECASE,
)
# A notes column's cell that only points to a footnote ("Notes: a", "Note: 2, 3").
_FOOTNOTE_MARK = re.compile(r"(?:foot)?notes?: \w(?:\s*,\s*\w)*", re.IGNORECASE)
# Where one sentence ends and the next begins.
SENTENCE_BREAK = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(])")


def is_row(text: str) -> bool:
    """Whether a unit is a table row (at least two "header: value" cells among three or more)."""
    segments = text.split(CELLS)
    return len(segments) >= 3 and sum(": " in segment for segment in segments) >= 2


def shown_cell(cell: str) -> str:
    """A row's cell as an answer shows it: a descriptive column without its header name
    ("Symbol: VBB" reads "VBB"), a value with it ("Max: 2 ms"), a footnote mark not at all ("")."""
    if _FOOTNOTE_MARK.fullmatch(cell):
        return ""
    header, colon, value = cell.partition(": ")
    if colon and _DESCRIPTIVE.fullmatch(re.sub(r"\s+", "", header)):
        return value
    return cell


def shown_cells(cells: list[str]) -> list[str]:
    """A row's cells as an answer shows them (`shown_cell`); a header spanning several columns
    is written once, before the first of them ("VDD = 2.7V to 5.5V: 1 · 40 · MHz")."""
    shown: list[str] = []
    previous = ""
    for cell in cells:
        text = shown_cell(cell.strip())
        if not text:
            continue
        header, colon, value = text.partition(": ")
        shown.append(value if colon and header == previous else text)
        previous = header if colon else ""
    return shown


def quoted_in(unit: str, answer: str, *, least: int) -> bool:
    """Whether an answer (whitespace folded) quotes a unit: a row when every cell of it, as
    answers show cells, is in the answer (rows of one table share a line and their common
    cells); a paragraph when it, or one of its sentences of at least `least` characters, is."""
    if is_row(unit):
        cells = [cell.rstrip(".") for cell in shown_cells(unit.split(CELLS))]
        return all(cell in answer for cell in cells if cell)
    if len(unit) >= least and unit in answer:
        return True
    return any(len(sentence) >= least and sentence in answer for sentence in SENTENCE_BREAK.split(unit)[1:])


def is_listing_page(text: str) -> bool:
    """A contents page or a revision history: it names topics and values without stating them."""
    return _is_contents_page(text) or _is_change_log(text)


def _is_contents_page(text: str) -> bool:
    """Table-of-contents and index pages list every topic by name and match every question."""
    first_lines = [line.strip() for line in text.split("\n")[:5]]
    return len(_LEADER.findall(text)) >= 6 or any(_CONTENTS_HEADING.fullmatch(line) for line in first_lines)


def _is_change_log(text: str) -> bool:
    """Revision-history pages name the sections and values that changed, never stating them as specified."""
    lines = [line.strip() for line in text.split("\n")]
    return any(_CHANGE_LOG_HEADING.fullmatch(line) for line in lines) or (
        sum(1 for line in lines if _CHANGE_LINE.match(line)) >= 4
    )


# A text that ends on a word no sentence ends with was cut by the layout or the page break.
OPEN_END = re.compile(
    r"\b(?:a|an|the|of|to|at|by|in|on|for|with|from|into|than|and|or|but|is|are|be|was|were|as|that|its|their)$",
    re.IGNORECASE,
)
# What is taken from the next page to finish a sentence: its first sentence, at most this long.
_FINISHING_CHARS = 200


def first_sentence(text: str, limit: int = _FINISHING_CHARS) -> str:
    return SENTENCE_BREAK.split(text, maxsplit=1)[0][:limit]


def finished_from_next_page(text: str, following: str) -> str:
    """A page's text with its last paragraph, when the page break cuts it mid-sentence ("… slave
    address 1110111 (0x77), which is the same as"), finished by the first sentence of the next
    page's first line (`following`: "BMP280’s I2C address."); else the text as it is. The
    sentence is then read and quoted whole, cited on the page where it starts; the stored
    chunks stay exact to their page."""
    if not may_end_cut(text) or not _goes_on_with(_last_line(text), following.strip()):
        return text
    return f"{text.rstrip()} {first_sentence(following.strip())}"


def may_end_cut(text: str) -> bool:
    """Whether a page's last line may be a paragraph the page break cuts (before reading on)."""
    last = _last_line(text)
    return len(last) >= 60 and not is_row(last) and not last.endswith((".", "!", "?", ":", ";", ")"))


def _last_line(text: str) -> str:
    return text.rstrip().rsplit("\n", 1)[-1]


def _goes_on_with(last: str, following: str) -> bool:
    """Whether the next page's first line goes on with the sentence a page's last line begins."""
    if not following or is_row(following) or not following[0].isalpha():
        return False
    return bool(OPEN_END.search(last)) or following[0].islower()
