"""Page text → chunks that never cross a page, sized by the embedding model's tokenizer."""

import re
from dataclasses import dataclass

from library.embeddings import count_tokens

# all-MiniLM-L6-v2 reads 256 word pieces; leave room for the [CLS]/[SEP] tokens and the
# document title that is prepended when embedding.
TARGET_TOKENS = 220
OVERLAP_TOKENS = 40
_SENTENCE_END = re.compile(r"(?<=[.;:!?])\s+(?=[A-Z(])")


@dataclass(frozen=True)
class ChunkDraft:
    page: int
    text: str
    token_count: int


def _pieces(line: str, tokens: int) -> list[tuple[str, int]]:
    """A line short enough as it is, or split at sentence ends, then at words."""
    if tokens <= TARGET_TOKENS:
        return [(line, tokens)]
    parts = [part for part in _SENTENCE_END.split(line) if part]
    if len(parts) == 1:
        words = line.split(" ")
        step = max(1, len(words) * TARGET_TOKENS // (tokens + 1))
        parts = [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
    counts = count_tokens(parts)
    out: list[tuple[str, int]] = []
    for part, count in zip(parts, counts, strict=True):
        out.extend(_pieces(part, count) if count > TARGET_TOKENS and part != line else [(part, count)])
    return out


def chunk_page(page: int, text: str) -> list[ChunkDraft]:
    """Pack the page's lines into chunks of about TARGET_TOKENS, overlapping by a few lines."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return []
    pieces: list[tuple[str, int]] = []
    for line, tokens in zip(lines, count_tokens(lines), strict=True):
        pieces.extend(_pieces(line, tokens))

    chunks: list[ChunkDraft] = []
    current: list[tuple[str, int]] = []
    size = 0
    for piece in pieces:
        if current and size + piece[1] > TARGET_TOKENS:
            chunks.append(_draft(page, current))
            # Carry the last lines over so a row or sentence cut at the edge is found whole.
            overlap: list[tuple[str, int]] = []
            carried = 0
            for previous in reversed(current):
                if carried + previous[1] > OVERLAP_TOKENS:
                    break
                overlap.insert(0, previous)
                carried += previous[1]
            while overlap and carried + piece[1] > TARGET_TOKENS:  # a long unit leaves less room
                carried -= overlap.pop(0)[1]
            current, size = overlap, carried
        current.append(piece)
        size += piece[1]
    if current:  # never only overlap: a new piece always follows the carry-over
        chunks.append(_draft(page, current))
    return chunks


def _draft(page: int, pieces: list[tuple[str, int]]) -> ChunkDraft:
    return ChunkDraft(page=page, text="\n".join(text for text, _ in pieces), token_count=sum(n for _, n in pieces))
