"""Citation markers → clean answer text + the sources actually cited.

Answers are written with numbered markers such as `[1]` or `[2, 3]` that point into the
evidence list (1-based). The reader sees the text without markers; `sources` lists the
cited evidence pages, de-duplicated, in order of first citation. A marker pointing at no
evidence item is dropped and never becomes a source.
"""

import re
from collections.abc import Sequence

from library.search import CitedPage

# "[1]", "[1, 2]", "[1-3]", "[1][2]", with the spaces before them; also 【1】 some models emit.
MARKER = re.compile(r"[ \t]*(?:\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]|【\s*\d+(?:\s*[,;]\s*\d+)*\s*】)")
_NUMBERS = re.compile(r"\d+(?:\s*[–-]\s*\d+)?")
# Citation markup some models add around passages or sources.
_TAGS = re.compile(r"</?(?:cite|source|evidence)\b[^>]*>", re.IGNORECASE)
_LONGEST_MARKER = 40


def marker_numbers(marker: str) -> list[int]:
    numbers: list[int] = []
    for part in _NUMBERS.findall(marker):
        if "-" in part or "–" in part:
            low, high = (int(x) for x in re.split(r"\s*[–-]\s*", part))
            if 0 < high - low < 20:
                numbers.extend(range(low, high + 1))
                continue
        numbers.append(int(re.split(r"\s*[–-]\s*", part)[0]))
    return numbers


def strip_markers(text: str) -> str:
    """The text a reader sees: no citation markers or citation tags."""
    text = MARKER.sub("", text)
    return _TAGS.sub("", text)


def clean_answer(text: str) -> str:
    return strip_markers(text).strip()


def cited_sources(text: str, evidence: Sequence[CitedPage]) -> tuple[CitedPage, ...]:
    """The evidence pages the text cites, de-duplicated by page, in order of first citation,
    each with the chunks of every evidence item of that page it cites."""
    merged: dict[tuple[int, int], CitedPage] = {}
    for match in MARKER.finditer(text):
        for number in marker_numbers(match.group()):
            if not 1 <= number <= len(evidence):
                continue  # a marker that points at nothing is dropped, never invented
            item = evidence[number - 1]
            key = (item.document_id, item.page)
            if key not in merged:
                merged[key] = CitedPage(document_id=item.document_id, source_name=item.source_name, page=item.page)
            merged[key].merge_chunks(item)
    return tuple(merged.values())


class StreamCleaner:
    """Turns streamed raw text (with markers) into clean pieces as it arrives.

    The concatenation of everything `feed` and `finish` return equals `clean_answer(raw)`:
    text that could still turn out to be a marker (an open "[" or trailing spaces) is held
    back until the next piece settles it.
    """

    def __init__(self) -> None:
        self.raw = ""
        self.emitted = ""

    def feed(self, piece: str) -> str:
        self.raw += piece
        safe = self._safe_prefix()
        return self._emit(strip_markers(safe).lstrip())

    def finish(self) -> str:
        return self._emit(clean_answer(self.raw))

    def _safe_prefix(self) -> str:
        raw = self.raw
        cut = len(raw)
        for opener, closer in (("[", "]"), ("【", "】"), ("<", ">")):
            start = raw.rfind(opener)
            if start != -1 and raw.find(closer, start) == -1 and len(raw) - start < _LONGEST_MARKER:
                cut = min(cut, start)
        prefix = raw[:cut]
        return prefix.rstrip()

    def _emit(self, clean: str) -> str:
        if not clean.startswith(self.emitted):
            # Only possible if held-back text changed meaning; never emit a contradiction.
            return ""
        piece = clean[len(self.emitted) :]
        self.emitted = clean
        return piece
