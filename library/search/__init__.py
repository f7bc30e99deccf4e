"""Search of an org's library: the one call the agent makes, and what it needs to read the answer.

`page_search` takes a question (and the topics or documents it is kept to) to the pages
that answer it, ranked: query terms (terms.py), the hybrid chunk search and page rows
(sql.py, the only search SQL), page ranking (ranking.py). Every page comes back as a
`CitedPage`, the shape an answer cites and a message stores.
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Q

from library.embeddings import embed_question
from library.models import Chunk, Document
from library.search import ranking, sql
from library.search.cited import CitedPage
from library.search.ranking import PageFeatures, is_relevant, page_weights
from library.search.sql import ChunkHit, PageRow, library_mentions, query_terms, text_lexemes
from library.search.terms import QueryTerms
from library.search.text import finished_from_next_page, is_listing_page, join_chunks, may_end_cut, text_blocks
from orgs.models import Organization

__all__ = [
    "CitedPage",
    "PageFeatures",
    "QueryTerms",
    "Retrieved",
    "is_listing_page",
    "is_relevant",
    "library_mentions",
    "page_read",
    "page_search",
    "page_weights",
    "query_terms",
    "text_blocks",
    "text_lexemes",
]


@dataclass
class Retrieved:
    """What one search found: its pages, best first, and the question as searched."""

    pages: list[CitedPage]
    terms: QueryTerms
    query_embedding: list[float] = field(default_factory=list)


def page_search(
    *,
    org: Organization,
    query: str,
    topic_ids: Sequence[int] | None = None,
    document_ids: Sequence[int] | None = None,
    limit: int = 5,
    query_embedding: Sequence[float] | None = None,
) -> Retrieved:
    """The org's pages that best answer `query`, within topics and/or documents (None: all).

    Candidates are the pages of the best fused chunks; each is then ranked on the whole page.
    `query_embedding` spares embedding a question whose vector is known.
    """
    knobs = ranking.KNOBS
    vector = list(query_embedding) if query_embedding is not None else embed_question(query)
    terms = query_terms(
        org=org,
        query_text=query,
        topic_ids=topic_ids,
        document_ids=document_ids,
        identifier_weight=knobs.identifier_weight,
        row_scan_chunks=knobs.row_scan_chunks,
        query_embedding=vector,
        candidates=knobs.candidates,
    )
    hits = sql.chunk_search(
        org=org,
        terms=terms,
        query_embedding=vector,
        topic_ids=topic_ids,
        document_ids=document_ids,
        limit=knobs.page_candidates,
        candidates=knobs.candidates,
        ef_search=knobs.ef_search,
        rrf_k=knobs.rrf_k,
        kept_lexical=knobs.kept_lexical,
        row_scan_chunks=knobs.row_scan_chunks,
    )
    pages = ranking.rank_pages(_measured_pages(org, hits, vector, terms), terms, limit) if hits else []
    _mark_identity(org, pages, terms)
    pages = ranking.within_documents(pages, terms, {page.document_id: page.identity for page in pages})
    _finish_cut_sentences(org, pages)
    return Retrieved(pages=pages, terms=terms, query_embedding=vector)


def _finish_cut_sentences(org: Organization, pages: Sequence[CitedPage]) -> None:
    """Finish each page's last sentence that the page break cuts with the next page's first
    sentence (`finished_from_next_page`), reading those next pages' first chunks at once."""
    cut = [page for page in pages if may_end_cut(page.text)]
    if not cut:
        return
    wanted = Q()
    for page in cut:
        wanted |= Q(document_id=page.document_id, page=page.page + 1)
    first_lines: dict[tuple[int, int], str] = {}
    for document_id, number, text in (
        Chunk.objects.filter(wanted, org=org).order_by("ordinal").values_list("document_id", "page", "text")
    ):
        first_lines.setdefault((document_id, number), next((line for line in text.split("\n") if line.strip()), ""))
    for page in cut:
        following = first_lines.get((page.document_id, page.page + 1), "")
        page.text = finished_from_next_page(page.text, following)


def _mark_identity(org: Organization, pages: list[CitedPage], terms: QueryTerms) -> None:
    """Set each page's `identity`: the question's terms its document's title (the profile's first
    sentence) or file name holds. (The profile's defining paragraph goes on to features.)"""
    documents = list(
        Document.objects.filter(org=org, pk__in={page.document_id for page in pages}).values_list(
            "pk", "profile", "source_name"
        )
    )
    named = text_lexemes(
        texts=[f"{profile.split('. ', 1)[0]} {re.sub(r'[-_.]', ' ', name)}" for _, profile, name in documents]
    )
    identity = {pk: frozenset(terms.matched(lexemes)) for (pk, _, _), lexemes in zip(documents, named, strict=True)}
    for page in pages:
        page.identity = identity.get(page.document_id, frozenset())


def _measured_pages(
    org: Organization, hits: list[ChunkHit], query_embedding: Sequence[float], terms: QueryTerms
) -> list[CitedPage]:
    """The pages of the chunks found, each with every chunk of it read and its features measured."""
    hits_by_page: dict[tuple[int, int], list[ChunkHit]] = defaultdict(list)
    for hit in hits:
        hits_by_page[(hit.document_id, hit.page)].append(hit)
    rows_by_page: dict[tuple[int, int], list[PageRow]] = defaultdict(list)
    for row in sql.page_rows(org=org, pages=list(hits_by_page), query_embedding=query_embedding, terms=terms):
        rows_by_page[(row[1], row[3])].append(row)
    pages = []
    for (document_id, page), rows in rows_by_page.items():  # rows of chunks deleted since the search are gone
        found = sorted(hits_by_page[(document_id, page)], key=lambda hit: -hit.score)
        text = join_chunks(row[5] for row in rows)
        features = ranking.page_features(rows=rows, hits=found, text=text, terms=terms)
        pages.append(
            CitedPage(
                document_id=document_id,
                source_name=rows[0][2],
                page=page,
                text=text,
                chunk_ids=[hit.chunk_id for hit in found],
                passages=[hit.text for hit in found],
                features=features,
            )
        )
    return pages


def page_read(*, org: Organization, document_id: int, page: int) -> CitedPage | None:
    """One whole page of one of the org's documents, with all its chunks; None if it has no text."""
    chunks = list(
        Chunk.objects.filter(org=org, document_id=document_id, page=page).select_related("document").order_by("ordinal")
    )
    if not chunks:
        return None
    read = CitedPage(
        document_id=document_id,
        source_name=chunks[0].document.source_name,
        page=page,
        text=join_chunks(chunk.text for chunk in chunks),
        chunk_ids=[chunk.pk for chunk in chunks],
        passages=[chunk.text for chunk in chunks],
    )
    _finish_cut_sentences(org, [read])
    return read
