"""What a datasheet is about, in its own words, from its first pages.

A question may name a part by what it is ("the humidity sensor", "the LDO") rather than by its
number. Each document's profile — its first page's title and the paragraph of its first pages
that says what the part is ("The MP2603 is a low cost single cell Li-ion battery charger …") —
is embedded once at ingestion, so such a name can be matched against every document's profile.
Nothing here is listed by hand per part or vendor.
"""

import re
from collections.abc import Sequence

from library.parsing.layout import PageLayout

# The profile reads this many pages; a cover page or a revision table often comes first.
PROFILE_PAGES = 8
_MAX_CHARS = 400
_MIN_PARAGRAPH = 80
# A defining sentence names a part (letters and digits mixed) and says what it is.
_PART = re.compile(r"\b[A-Za-z]+\d+[A-Za-z0-9+/-]*")
_DEFINES = re.compile(r"\b(?:is|are|consists? of|provides?|features?|series of)\b", re.IGNORECASE)


def document_profile(pages: Sequence[PageLayout]) -> str:
    """The title of the first page, then the first defining paragraph of the first pages."""
    first = pages[0] if pages else None
    title = first.title if first is not None else ""
    paragraphs = [
        unit.text
        for page in pages[:PROFILE_PAGES]
        for unit in page.units
        if unit.kind == "paragraph" and len(unit.text) >= _MIN_PARAGRAPH
    ]
    defining = next((text for text in paragraphs if _is_definition(text)), "")
    if defining[:60] in title:  # a first page whose largest type is the description itself
        defining = ""
    profile = f"{title}. {defining}" if title and defining else title or defining
    return _sentences_within(profile, _MAX_CHARS)


def _is_definition(text: str) -> bool:
    """A paragraph that opens with a sentence naming a part and saying what it is."""
    return text[0].isupper() and bool(_PART.search(text[:120])) and bool(_DEFINES.search(text[:160]))


def _sentences_within(text: str, limit: int) -> str:
    """The text cut after its last whole sentence within `limit` characters (or at a word)."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return cut[: end + 1] if end >= limit // 2 else cut.rsplit(" ", 1)[0]
