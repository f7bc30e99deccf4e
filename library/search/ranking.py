"""Page ranking: what each candidate page is measured on, and every weight and threshold of search.

A page is scored on typed `PageFeatures` measured over the whole page (every chunk of it):
the best dense similarity, the share of the question's rare terms it holds (IDF-weighted),
the fused rank of its chunks, whether it only lists things (contents, revision history),
and for the pages near the cut, the largest share a few consecutive blocks hold.

The weights were chosen on two question sets together, the shared dev set and our own
held-out one (bench/qa_extra.jsonl), as a region where neighbouring values do as well.
"""

from dataclasses import dataclass
from typing import Protocol, TypeVar

from library.search.sql import ChunkHit, PageRow, terms_in_lines
from library.search.terms import QueryTerms, unit_pattern, units_written_on_numbers
from library.search.text import is_listing_page, text_blocks


@dataclass(frozen=True)
class SearchKnobs:
    """Every number search and ranking use, in one place (what `bench/scale.py` varies too)."""

    # The hybrid chunk search: candidates from each of dense and full-text search, the HNSW
    # candidate list (iterative scans keep going when org/topic filters drop rows), and the
    # constant of reciprocal rank fusion.
    candidates: int = 60
    ef_search: int = 200
    # A scope (org, topics, documents) of at most this many chunks is searched row by row from
    # its btree index, exactly, rather than through the HNSW and GIN indexes, which find every
    # org's chunks before the org filter drops them (bench/scale.py: 1M chunks over 100 orgs).
    row_scan_chunks: int = 50_000
    rrf_k: int = 60
    # The best full-text matches always stay among the fused chunks: a chunk that alone holds
    # a rare symbol ("0x76", "WHO_AM_I") may sit far down the dense ranking.
    kept_lexical: int = 3
    # A register or constant name in the question weighs this much more than a word of it.
    identifier_weight: float = 1.5
    # Fused chunks whose pages are ranked.
    page_candidates: int = 40
    # A page's score: dense + coverage · coverage + fused · fused − listing_penalty · contents,
    # then + window · window for the pages that can still reach the cut.
    coverage: float = 0.6
    fused: float = 0.15
    listing_penalty: float = 1.0
    # The fused feature: the page's best chunk, plus this share of its next two.
    fused_runners_up: float = 0.5
    window: float = 0.3
    window_blocks: int = 3  # consecutive blocks (paragraphs, table rows) that make one passage
    # Below both, a page does not plausibly answer the question (off-topic questions reach about
    # 0.25 dense similarity and under 0.5 term coverage on the datasheets; real ones 0.35+ / 0.6+).
    relevant_dense: float = 0.30
    relevant_coverage: float = 0.60
    # A ranked page's weight for the answer's choice of lines falls to 0 this far below the top.
    weight_span: float = 0.6


KNOBS = SearchKnobs()


@dataclass
class PageFeatures:
    """What a candidate page is ranked on."""

    dense: float  # the best cosine similarity of its chunks to the question
    coverage: float  # the IDF-weighted share of the question's terms found in the scope that it holds
    coverage_all: float  # the same share, counting terms found nowhere in the scope
    fused: float  # its chunks' fused ranks, scaled so the best chunk of a search scores about 1
    contents: float  # 1 for a contents page or revision history, else 0
    window: float = 0.0  # the largest share a few consecutive blocks hold (pages near the cut only)
    matched: frozenset[str] = frozenset()  # the question's terms it holds


class RankedPage(Protocol):
    """A page as ranking sees it (library.search.cited.CitedPage)."""

    document_id: int
    source_name: str
    page: int
    text: str
    score: float
    features: PageFeatures | None


_Page = TypeVar("_Page", bound=RankedPage)


def page_features(*, rows: list[PageRow], hits: list[ChunkHit], text: str, terms: QueryTerms) -> PageFeatures:
    """The features of one page, from all of its chunks (`rows`) and those the search found (`hits`)."""
    knobs = KNOBS
    lexemes = terms.lexemes
    matched: set[str] = set()
    for row in rows:
        matched.update(lex for lex, hit in zip(lexemes, row[7], strict=True) if hit)
    coverage = sum(terms.weights[lex] for lex in matched) / (sum(terms.weights.values()) or 1.0)
    similarities = sorted((float(row[6]) for row in rows), reverse=True)
    fused = sorted((hit.score for hit in hits), reverse=True)
    return PageFeatures(
        dense=similarities[0],
        coverage=coverage,
        coverage_all=coverage * terms.present_share,
        fused=(fused[0] + knobs.fused_runners_up * sum(fused[1:3])) * knobs.rrf_k,
        contents=1.0 if is_listing_page(text) else 0.0,
        matched=frozenset(matched),
    )


def rank_pages(pages: list[_Page], terms: QueryTerms, limit: int) -> list[_Page]:
    """The best `limit` pages, best first, each with its score (and window feature, if measured)."""
    knobs = KNOBS
    if not pages:
        return []
    for page in pages:
        features = _features(page)
        page.score = (
            features.dense
            + knobs.coverage * features.coverage
            + knobs.fused * features.fused
            - knobs.listing_penalty * features.contents
        )
    # The window signal adds at most `knobs.window`: only pages within that of the last place
    # that counts can still reach it, so only they are split into blocks (the costly part).
    cut = sorted((page.score for page in pages), reverse=True)[min(limit, len(pages)) - 1] - knobs.window
    contenders = [page for page in pages if page.score >= cut]
    for page, window in zip(contenders, window_coverage([p.text for p in contenders], terms), strict=True):
        _features(page).window = window
        page.score += knobs.window * window
    pages.sort(key=lambda p: (-p.score, p.source_name, p.page))
    return pages[:limit]


def _features(page: RankedPage) -> PageFeatures:
    if page.features is None:
        raise ValueError(f"{page.source_name} p.{page.page} was not measured")
    return page.features


def window_coverage(texts: list[str], terms: QueryTerms) -> list[float]:
    """For each page, the largest share of the question's (IDF-weighted) terms that a few
    consecutive blocks hold: an answer sits in one passage or table row group, where a long
    page may hold the same terms scattered over unrelated paragraphs.

    A block holds a term as `QueryTerms.matched` finds it among the block's lexemes
    (`terms_in_blocks`)."""
    weights = list(terms.weights.values())
    total = sum(weights)
    if not total:
        return [0.0 for _ in texts]
    blocks_of = [text_blocks(text) for text in texts]
    masks = iter(terms_in_blocks([block for blocks in blocks_of for block in blocks], terms))
    share: dict[int, float] = {}  # the share of the terms a pattern holds, summed in the terms' order
    result = []
    for blocks in blocks_of:
        held = [next(masks) for _ in blocks]
        best = 0.0
        for start in range(len(held)):
            found = 0
            for mask in held[start : start + KNOBS.window_blocks]:
                found |= mask
            if found not in share:
                share[found] = sum(w for bit, w in enumerate(weights) if found >> bit & 1) / total
            best = max(best, share[found])
        result.append(best)
    return result


def terms_in_blocks(blocks: list[str], terms: QueryTerms) -> list[int]:
    """Which of the question's terms each block holds, as `QueryTerms.matched` finds them among
    its lexemes, as a mask (bit i: the i-th term of `terms.weights`). PostgreSQL tests every
    distinct block at once (`terms_in_lines`), so no block's lexemes travel but those that may
    write a unit onto a number, which Python reads as `matched` does."""
    distinct = list(dict.fromkeys(blocks))  # a page header, a table's column heads: tested once
    masks, lexemes_of = terms_in_lines(
        lines=distinct,
        forms=terms.match_forms,
        lexemes_like=unit_pattern(terms.unit_terms) if terms.unit_terms else None,
    )
    units = {lex: 1 << bit for bit, lex in enumerate(terms.weights) if lex in terms.unit_terms}
    for i, lexemes in enumerate(lexemes_of):
        for unit in units_written_on_numbers(lexemes) & units.keys():
            masks[i] |= units[unit]
    mask_of = dict(zip(distinct, masks, strict=True))
    return [mask_of[block] for block in blocks]


def within_documents(pages: list[_Page], terms: QueryTerms, identity: dict[int, frozenset[str]]) -> list[_Page]:
    """The ranked pages with each document's pages reordered among the places they hold, on
    the terms that do not name the document: those chose the document; which of its pages
    answers is what the question asks of it (the title page holds "Li-ion charger" too)."""
    by_document: dict[int, list[int]] = {}
    for index, page in enumerate(pages):
        by_document.setdefault(page.document_id, []).append(index)
    ordered = list(pages)
    for document_id, places in by_document.items():
        if len(places) < 2 or not identity.get(document_id):
            continue
        asked = {lex: w for lex, w in terms.weights.items() if lex not in identity[document_id]}
        if not sum(asked.values()):
            continue
        mine = sorted((pages[i] for i in places), key=lambda p: (-_asked_score(p, asked), p.page))
        scores = [pages[i].score for i in places]  # each place keeps its score: weights follow places
        for place, page, score in zip(places, mine, scores, strict=True):
            ordered[place] = page
            page.score = score
    return ordered


def _asked_score(page: RankedPage, asked: dict[str, float]) -> float:
    """The page's score with its coverage measured on the `asked` terms only."""
    features = _features(page)
    held = sum(asked.get(lex, 0.0) for lex in features.matched) / sum(asked.values())
    return page.score + KNOBS.coverage * (held - features.coverage)


def page_weights(pages: list[_Page]) -> list[float]:
    """Each ranked page's weight for the answer's choice of lines: 1 for the top page, falling
    with its score's distance from the top one, 0 from `weight_span` below."""
    if not pages:
        return []
    top = pages[0].score
    return [max(0.0, 1.0 + (page.score - top) / KNOBS.weight_span) for page in pages]


def is_relevant(page: RankedPage) -> bool:
    """Whether a page found plausibly answers the question at all."""
    dense = page.features.dense if page.features is not None else 0.0
    coverage_all = page.features.coverage_all if page.features is not None else 0.0
    return dense >= KNOBS.relevant_dense or coverage_all >= KNOBS.relevant_coverage
