"""Where to look and what was found: topic scope, thread context, evidence pages.

The scope is decided once per question: topics given by the client win; otherwise a part
number or document named in the question (or, for a follow-up that names none, in the
thread so far) narrows the search to those documents; otherwise the whole org library.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.citations import Evidence
from agent.events import Turn
from library.embeddings import embed_question
from library.models import Document
from library.selectors import PageHit, QueryTerms, documents_named_in, page_search, query_terms, topics_of_documents
from orgs.models import Organization
from topics.models import Topic


@dataclass
class Scope:
    """What a question searches: topic ids and/or document ids (None: no restriction)."""

    topics: list[Topic] = field(default_factory=list)  # reported to the client
    topic_ids: list[int] | None = None
    documents: list[Document] = field(default_factory=list)
    automatic: bool = True
    named_in_query: int = 0  # documents the question itself names (not the thread)

    @property
    def document_ids(self) -> list[int] | None:
        return [d.pk for d in self.documents] or None

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(topic.name for topic in self.topics)


def scope_choose(*, org: Organization, query: str, history: Sequence[Turn], topics: Sequence[Topic] | None) -> Scope:
    """The scope of one question; see the module docstring for the rules."""
    if topics:
        topic_ids = [t.pk for t in topics]
        named = [d for d in documents_named_in(org=org, text=query) if _in_topics(d, topic_ids)]
        return Scope(
            topics=list(topics), topic_ids=topic_ids, documents=named, automatic=False, named_in_query=len(named)
        )
    named = documents_named_in(org=org, text=query)
    in_query = len(named)
    if not named:
        named = _documents_of_thread(org=org, history=history)
    if named:
        return Scope(
            topics=topics_of_documents(document_ids=[d.pk for d in named]), documents=named, named_in_query=in_query
        )
    return Scope()


def _in_topics(document: Document, topic_ids: list[int]) -> bool:
    return document.topics.filter(pk__in=topic_ids).exists()


def _documents_of_thread(*, org: Organization, history: Sequence[Turn]) -> list[Document]:
    """The documents the latest turns were about: a follow-up ("And its maximum temperature?")
    that names no part continues with the part the thread is about."""
    for turn in reversed(history):
        if turn.role == "user":
            named = documents_named_in(org=org, text=turn.content)
            if named:
                return named
        elif turn.sources:
            ids = list(dict.fromkeys(source.document_id for source in turn.sources[:2]))
            found = list(Document.objects.filter(org=org, pk__in=ids))
            if found:
                return sorted(found, key=lambda d: ids.index(d.pk))
    return []


# Pages a look-up answer reads: FAST's one search, and AGENTIC's search of the whole question.
LOOKUP_PAGES_READ = 5


@dataclass
class Retrieved:
    pages: list[PageHit]
    terms: QueryTerms
    query_embedding: list[float] = field(default_factory=list)


def search_pages(
    *,
    org: Organization,
    query: str,
    topic_ids: Sequence[int] | None,
    document_ids: Sequence[int] | None,
    limit: int = 5,
) -> Retrieved:
    terms = query_terms(org=org, query_text=query, topic_ids=topic_ids, document_ids=document_ids)
    vector = embed_question(query)
    pages = page_search(
        org=org,
        query_text=query,
        query_embedding=vector,
        topic_ids=topic_ids,
        document_ids=document_ids,
        limit=limit,
        terms=terms,
    )
    return Retrieved(pages=pages, terms=terms, query_embedding=vector)


def not_in_library(*, org: Organization, query: str, parts: Sequence[str], topic_ids: Sequence[int] | None) -> str:
    """The answer to a question about parts no document covers: say so, and name the closest
    datasheets the library has (those whose pages best match the rest of the question)."""
    rest = query
    for part in parts:
        rest = rest.replace(part, " ")
    found = search_pages(org=org, query=rest, topic_ids=topic_ids, document_ids=None, limit=8).pages
    closest = list(dict.fromkeys(page.source_name for page in found if is_relevant(page)))[:3]
    named = " or ".join(parts)
    text = f"The library has no datasheet for {named}, so I cannot answer from it."
    if closest:
        text += f" The closest datasheets it has: {', '.join(closest)}."
    return text


def page_weights(pages: Sequence[PageHit]) -> list[float]:
    """Each ranked page's weight for the answer's choice of lines: 1 for the top page, falling
    with its score's distance from the top one, 0 from 0.6 below."""
    if not pages:
        return []
    top = pages[0].score
    return [max(0.0, 1.0 + (page.score - top) / 0.6) for page in pages]


def evidence_of(page: PageHit) -> Evidence:
    return Evidence(
        document_id=page.document_id,
        source_name=page.source_name,
        page=page.page,
        chunk_ids=[hit.chunk_id for hit in page.chunks],
        passages=[hit.text for hit in page.chunks],
        text=page.text,
    )


# Below both, a page does not plausibly answer the question (off-topic questions reach about
# 0.25 dense similarity and under 0.5 term coverage on the datasheets; real ones 0.35+ / 0.6+).
_MIN_DENSE = 0.30
_MIN_COVERAGE = 0.60


def is_relevant(page: PageHit) -> bool:
    """Whether the best page found plausibly answers the question at all."""
    return page.features.get("dense", 0.0) >= _MIN_DENSE or page.features.get("coverage_all", 0.0) >= _MIN_COVERAGE
