"""PDF → text, page by page, normalised for search and for people.

pypdf extracts the text; `fonttools` must be installed for the CFF Type1 fonts several
datasheets use. Page numbers are 1-based, as a PDF viewer shows them.
"""

import io
import logging
import re
import unicodedata
from collections import Counter
from typing import BinaryIO

import pypdf
from pypdf.errors import FileNotDecryptedError, PdfReadError

logger = logging.getLogger(__name__)

# A decompressed page stream larger than this is refused: a zip-bomb PDF cannot eat the worker.
MAX_PAGE_TEXT_CHARS = 2_000_000


class PdfProblem(Exception):
    """The PDF cannot be ingested; the message is readable by the person who uploaded it."""


def looks_like_pdf(head: bytes) -> bool:
    """The one PDF test, on a file's first KiB: a PDF header there (viewers allow leading junk)."""
    return b"%PDF-" in head[:1024]


def open_pdf(stream: BinaryIO | bytes) -> pypdf.PdfReader:
    """Open a PDF or raise PdfProblem with a sentence a person understands."""
    data = stream if isinstance(stream, bytes) else stream.read()
    if not looks_like_pdf(data):
        raise PdfProblem("This file is not a PDF (it does not start with %PDF-).")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password only to set permissions.
            try:
                opened = reader.decrypt("")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise PdfProblem(f"This PDF is encrypted and cannot be opened ({exc}).") from None
            if opened == pypdf.PasswordType.NOT_DECRYPTED:
                raise PdfProblem("This PDF is protected by a password; upload an unprotected copy.")
        page_count = len(reader.pages)
    except PdfProblem:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise PdfProblem(f"This PDF is damaged or truncated and cannot be read ({type(exc).__name__}).") from None
    if page_count == 0:
        raise PdfProblem("This PDF has no pages.")
    return reader


def extract_page_text(reader: pypdf.PdfReader, index: int) -> str:
    """Raw pypdf text of page `index` (0-based); '' for a page that cannot be read."""
    try:
        text = reader.pages[index].extract_text() or ""
    except Exception as exc:  # one broken page must not sink the document
        logger.warning("page %s unreadable: %s", index + 1, exc)
        return ""
    return text[:MAX_PAGE_TEXT_CHARS]


# --- normalisation ----------------------------------------------------------------------

_SOFT_HYPHEN = "\u00ad"
_GLYPH_NAME = re.compile(r"/[gG]\d{1,4}\b\s?")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")
_HYPHEN_BREAK = re.compile(r"([a-z]{2,})-\n([a-z]{2,})")
_FILLER_LINE = re.compile(r"^(?:(.)\1*\s*)+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DOT_LEADER = re.compile(r"(?:\s?\.){4,}\s?")


def normalise_text(raw: str) -> str:
    """Ligatures, soft hyphens, words broken over lines, glyph names and spacing; one row per line.

    NFKC folds ligatures (ﬁ → fi) and superscripts (I²C → I2C) so that search finds them.
    """
    text = unicodedata.normalize("NFKC", raw)
    text = text.replace(_SOFT_HYPHEN, "")
    text = _CONTROL.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _GLYPH_NAME.sub("", text)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = _DOT_LEADER.sub(" ... ", text)  # table-of-contents leaders
    lines = []
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if not line or _is_filler(line):
            continue
        lines.append(line)
    return "\n".join(lines)


def _is_filler(line: str) -> bool:
    """Lines such as 'xxxxxxx xxxx x' (hidden text some PDFs carry) or rows of dots."""
    compact = line.replace(" ", "")
    return len(compact) >= 3 and len(set(compact)) == 1


_DIGITS = re.compile(r"\d+")


def _line_shape(line: str) -> str:
    return _DIGITS.sub("#", line.lower())


def strip_running_headers(pages: list[str]) -> list[str]:
    """Drop lines that repeat on most pages (running headers and footers, page counters).

    They carry no content and, repeated in every chunk, make all pages look alike to search.
    """
    if len(pages) < 4:
        return pages
    counts: Counter[str] = Counter()
    for text in pages:
        counts.update({_line_shape(line) for line in text.split("\n")})
    threshold = max(3, int(len(pages) * 0.4))
    boilerplate = {shape for shape, count in counts.items() if count >= threshold and len(shape) < 200}
    cleaned = []
    for text in pages:
        kept = [line for line in text.split("\n") if _line_shape(line) not in boilerplate]
        cleaned.append("\n".join(kept))
    return cleaned
