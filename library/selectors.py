"""Reads for the library's documents: lookups by id, by name, by the part numbers a text names,
and a page's text as the library page shows it.

Search is library.search; ingestion progress is library.progress.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import QuerySet

from library.display import readable
from library.models import Chunk, Document, PageUnits
from library.parsing.pdf_text import PdfProblem, extract_page_text, normalise_text, open_pdf
from library.search import CitedPage, library_mentions
from library.search.terms import part_number_names, part_numbers_in, parts_asked_about
from library.search.text import page_lines, quoted_in
from orgs.models import Organization
from topics.models import Topic


def document_list(*, org: Organization, topic_ids: Sequence[int] | None = None) -> QuerySet[Document]:
    """The org's documents that have text to search, optionally within topics."""
    documents = Document.objects.filter(org=org, chunks__isnull=False).distinct()
    if topic_ids is not None:
        documents = documents.filter(topics__in=list(topic_ids)).distinct()
    return documents.prefetch_related("topics").order_by("source_name")


def document_by_source_name(*, org: Organization, source_name: str) -> Document | None:
    return Document.objects.filter(org=org, source_name__iexact=source_name.strip()).first()


def document_named(*, org: Organization, source_name: str) -> Document | None:
    """The org's document of exactly this file name, with its topics; None if there is none."""
    if "\x00" in source_name:  # PostgreSQL text cannot hold NUL: such a name matches nothing
        return None
    return Document.objects.filter(org=org, source_name=source_name).prefetch_related("topics").first()


def documents_for_org(*, org: Organization) -> QuerySet[Document]:
    """Every document of the org, whatever its status, for the library API and pages."""
    return Document.objects.filter(org=org).prefetch_related("topics").order_by("source_name")


def document_get(*, org: Organization, document_id: int) -> Document | None:
    """The org's document with this id; None for an unknown id or another org's document."""
    return Document.objects.filter(org=org, pk=document_id).prefetch_related("topics").first()


def documents_named_in(*, org: Organization, text: str) -> list[Document]:
    """Documents a part number written in the text names ("BME280", "ICL7660A"; by file name or
    profile, see `part_number_names`), in the order the text first names them."""
    first_seen: dict[str, int] = {}
    for match in part_numbers_in(text):
        first_seen.setdefault(match.group(), match.start())
    if not first_seen:
        return []
    found: list[tuple[int, Document]] = []
    for document in Document.objects.filter(org=org).order_by("source_name"):
        positions = [
            position
            for token, position in first_seen.items()
            if part_number_names(token, document.source_name, document.profile)
        ]
        if positions:
            found.append((min(positions), document))
    return [document for _, document in sorted(found, key=lambda item: item[0])]


def parts_unknown_to_library(*, org: Organization, text: str) -> list[str]:
    """Part numbers in the text that no document of the org names and no page mentions.

    "MPU-6050" in a library of other parts is unknown; "SOT-223" (a package a datasheet
    mentions) or "ADS1113" (a sibling part named inside the ADS1115's datasheet) is not.
    """
    unknown: list[str] = []
    named = list(Document.objects.filter(org=org).values_list("source_name", "profile"))
    if not named:
        return []  # an empty library: nothing to tell a part's absence from
    for token in parts_asked_about(text):
        if token in unknown or any(part_number_names(token, name, profile) for name, profile in named):
            continue
        if not library_mentions(org=org, phrase=token):
            unknown.append(token)
    return unknown


def topics_of_documents(*, document_ids: Sequence[int]) -> list[Topic]:
    return list(Topic.objects.filter(documents__in=list(document_ids)).distinct().order_by("name"))


def page_shown(*, document: Document, page: int) -> tuple[list[str], list[set[int]]]:
    """A page's text as the library page shows it: lines, each with the ids of its chunks.

    A page without chunks (a document not ingested yet, or re-ingesting) is read from the PDF.
    """
    chunks = Chunk.objects.filter(document=document, page=page).order_by("ordinal").values_list("id", "text")
    lines, owners = page_lines(chunks)
    if lines or document.is_live:
        return [readable(line) for line in lines], owners
    try:
        with document.served_file.open("rb") as handle:
            reader = open_pdf(handle.read())
        text = normalise_text(extract_page_text(reader, page - 1))
    except (PdfProblem, OSError, IndexError):
        return [], []
    lines = [readable(line) for line in text.split("\n") if line.strip()]
    return lines, [set() for _ in lines]


def cited_chunk_ids(*, org: Organization, pages: Sequence[CitedPage]) -> list[list[int]]:
    """For each page a message cites, the current chunks to highlight on its library page.

    The stored chunk ids are used while they still name chunks of that page; after the
    document was ingested again they are found anew from the stored passages' text.
    """
    wanted = {chunk_id for page in pages for chunk_id in page.chunk_ids}
    alive = {
        row[0]: (row[1], row[2])
        for row in Chunk.objects.filter(org=org, pk__in=wanted).values_list("id", "document__source_name", "page")
    }
    result: list[list[int]] = []
    for cited in pages:
        ids = [i for i in cited.chunk_ids if alive.get(i) == (cited.source_name, cited.page)]
        passages = [p.strip() for p in cited.passages if p.strip()]
        if not ids and passages:
            chunks = Chunk.objects.filter(org=org, document__source_name=cited.source_name, page=cited.page)
            ids = [
                cid
                for cid, body in chunks.values_list("id", "text")
                if any(p in body or body.strip() in p for p in passages)
            ]
        result.append(ids)
    return result


# A unit shorter than this ("Min", "3.3 V") is found in too many answers by chance.
_QUOTED_UNIT_CHARS = 16
_MAX_QUOTED_UNITS = 6
# A sentence of a paragraph counts as quoting it from this length (shorter ones recur).
_QUOTED_SENTENCE_CHARS = 40


@dataclass(frozen=True)
class QuotedUnits:
    """The units of a cited page an answer quotes, as positions in the page's `PageUnits` of
    the document's live version `version` (a later version's units are others)."""

    positions: list[int]
    version: int | None


def quoted_units(*, org: Organization, cited: CitedPage, answer: str) -> QuotedUnits:
    """The units an answer quotes from this cited page (the extractive answerer copies
    sentences verbatim and rows cell by cell), at most a few."""
    record = (
        PageUnits.objects.filter(document__org=org, document__source_name=cited.source_name, page=cited.page)
        .select_related("document")
        .first()
    )
    if record is None:
        return QuotedUnits(positions=[], version=None)
    said = " ".join(answer.split())
    found: list[int] = []
    for index, unit in enumerate(record.units):
        text = " ".join(str(unit.get("text", "")).split())
        if len(text) >= _QUOTED_UNIT_CHARS and quoted_in(text, said, least=_QUOTED_SENTENCE_CHARS):
            found.append(index)
            if len(found) == _MAX_QUOTED_UNITS:
                break
    return QuotedUnits(positions=found, version=record.document.live_version)


def unit_boxes_of(*, document: Document, page: int, positions: Sequence[int]) -> list[list[float]]:
    """The boxes (fractions of the page, top-down) of the page's units at `positions`."""
    record = PageUnits.objects.filter(document=document, page=page).first()
    units = record.units if record is not None else []
    return [list(units[index]["box"]) for index in positions if 0 <= index < len(units)]
