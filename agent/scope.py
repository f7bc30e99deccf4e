"""Where a question looks: its topic scope, and the documents it (or its thread) is about.

The scope is decided once per question: topics given by the client win; otherwise the
documents the question names — by part number, or by what they are ("the humidity sensor",
matched against each document's profile) — or, for a follow-up that names none, those of the
thread so far narrow the search; otherwise the whole org library.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent.events import Turn
from library.models import Document
from library.search.profiles import documents_described_in
from library.search.terms import part_numbers_in
from library.selectors import documents_named_in, topics_of_documents
from orgs.models import Organization
from topics.models import Topic


@dataclass
class Scope:
    """What a question searches: topic ids and/or document ids (None: no restriction)."""

    topics: list[Topic] = field(default_factory=list)  # reported to the client
    topic_ids: list[int] | None = None
    documents: list[Document] = field(default_factory=list)
    named_in_query: int = 0  # documents the question itself names (not the thread)
    phrases: dict[int, str] = field(default_factory=dict)  # document id → what the question calls it

    @property
    def document_ids(self) -> list[int] | None:
        return [d.pk for d in self.documents] or None

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(topic.name for topic in self.topics)

    def searched_question(self, query: str) -> str:
        return searched_question(query, self.documents, self.phrases)


def is_description(phrase: str) -> bool:
    """Whether a phrase that named a document says what it is ("the humidity sensor") rather
    than naming its part number ("the ADS1113", which its sibling's datasheet covers too)."""
    return bool(phrase) and not any(part_numbers_in(phrase))


def searched_question(query: str, documents: Sequence[Document], phrases: Mapping[int, str]) -> str:
    """The question as the search reads it once its scope is one described document: without
    the description ("the 2.4 GHz radio"), which inside that document only points at the pages
    that say what the part is."""
    if len(documents) != 1 or not is_description(phrases.get(documents[0].pk, "")):
        return query
    phrase = re.escape(phrases[documents[0].pk])
    text = re.sub(rf"\b(?:the\s+)?{phrase}(?:['’]s)?(?!\w)", " ", query, flags=re.IGNORECASE)
    text = re.sub(r"\s+([,?.;])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
    return text if re.search(r"\w", text) else query


def scope_choose(*, org: Organization, query: str, history: Sequence[Turn], topics: Sequence[Topic] | None) -> Scope:
    """The scope of one question; see the module docstring for the rules."""
    topic_ids = [t.pk for t in topics] if topics else None
    named, phrases = _documents_named(org=org, query=query, topic_ids=topic_ids)
    if topics:
        return Scope(
            topics=list(topics), topic_ids=topic_ids, documents=named, named_in_query=len(named), phrases=phrases
        )
    in_query = len(named)
    if not named:
        named = _documents_of_thread(org=org, history=history)
    if named:
        return Scope(
            topics=topics_of_documents(document_ids=[d.pk for d in named]),
            documents=named,
            named_in_query=in_query,
            phrases=phrases,
        )
    return Scope()


_ALTERNATIVES = re.compile(r"\b(?:or|vs\.?|versus)\b", re.IGNORECASE)


def _documents_named(
    *, org: Organization, query: str, topic_ids: list[int] | None
) -> tuple[list[Document], dict[int, str]]:
    """The documents a question names by part number ("BME280"), else those it names by what
    they are ("the humidity sensor"), with the words it uses for the latter."""
    named = documents_named_in(org=org, text=query)
    if topic_ids is not None:
        named = [d for d in named if _in_topics(d, topic_ids)]
    if named:
        return named, {}
    described = documents_described_in(org=org, text=query, topic_ids=topic_ids)
    if len(described) == 1 and _ALTERNATIVES.search(query):
        # "the humidity sensor or the RTC" with one of them recognised: searching that one
        # alone would lose the other; the whole library is searched instead.
        return [], {}
    return [d.document for d in described], {d.document.pk: d.phrase for d in described}


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
