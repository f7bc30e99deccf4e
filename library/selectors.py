"""Reads for the library: hybrid passage search, pages, documents.

`chunk_search` holds the hybrid SQL in one place: pgvector cosine distance on the HNSW
index and Postgres full-text search over the `simple` tsvector, fused by reciprocal rank
fusion, with org, topic and document filters inside the SQL. `page_search` ranks pages
(what an answer cites) from those chunk hits and a few page-level signals. Nobody else
orders by vector distance.
"""

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import QuerySet

from library.models import Chunk, Document
from orgs.models import Organization
from topics.models import Topic

# Parameters of the raw SQL below: ids, id lists, tsquery texts and weights.
SqlParams = list[int | float | str | list[int]]

# Candidates taken from each of the two searches before fusion.
_CANDIDATES = 60
# HNSW candidate list; iterative scans keep going when org/topic filters drop rows.
_EF_SEARCH = 200
_RRF_K = 60

# Words that carry no search signal in a question. Everything else, including one-letter
# symbols and numbers, is kept: "tPD", "I2C", "0x76", "5 V" must reach full-text search.
STOPWORDS = frozenset(
    """
    a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each either few for from
    further get gets give gives had has have having he her here hers how i if in into is it
    its itself just me more most my need no nor not of off on once only or other our out
    over own same she should so some such than that the their them then there these they
    this those through to too under until up use used using very was we were what when where
    which while who whom why will with would you your yours tell much many
    """.split()
)

# A part number: letters and digits mixed ("BME280", "LSM6DS33", "ESP32-WROOM-32", "IRF540N").
_PART_TOKEN = re.compile(r"(?<![\w.])[A-Za-z][A-Za-z0-9]*\d[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![\w.])")
# A line at least this long that does not end a sentence was wrapped by the PDF layout.
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


_WRAPPED_LINE = 60  # a line this long that ends no sentence was wrapped by the layout


@dataclass(frozen=True)
class SearchHit:
    """One chunk found by `chunk_search`; `score` is its fused RRF score."""

    chunk_id: int
    document_id: int
    source_name: str
    page: int
    ordinal: int
    text: str
    score: float
    dense_similarity: float | None = None
    lexical_score: float | None = None


@dataclass
class PageHit:
    """One page, ranked by `page_search`; `chunks` are its matching chunks, best first."""

    document_id: int
    source_name: str
    page: int
    score: float
    chunks: list[SearchHit] = field(default_factory=list)
    text: str = ""  # the whole page, chunks joined in order (overlaps removed)
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class QueryTerms:
    """The question's full-text lexemes with their inverse document frequency in the org.

    A plain word is searched by its stem as a prefix ("addresses" finds "address"), since
    the `simple` configuration does not stem; numbers and symbols are searched exactly.
    """

    weights: dict[str, float]
    absent: frozenset[str] = frozenset()  # terms no chunk in the scope holds (not in weights)
    absent_weight: float = 0.0

    @property
    def present_share(self) -> float:
        """The share of the question's weight that some chunk in the scope holds."""
        present = sum(self.weights.values())
        return present / (present + self.absent_weight) if present + self.absent_weight else 0.0

    @property
    def lexemes(self) -> list[str]:
        return list(self.weights)

    def tsquery(self, lexeme: str) -> str:
        return search_form(lexeme)

    def matched(self, lexemes: set[str]) -> set[str]:
        """The question's terms found among a text's lexemes (a compound: all of its parts)."""
        found = set()
        for lex in self.weights:
            if "_" in lex:
                if all(part in lexemes for part in lex.split("_")):
                    found.add(lex)
                continue
            stem = word_stem(lex)
            if lex in lexemes or (stem is not None and any(other.startswith(stem) for other in lexemes)):
                found.add(lex)
        return found


_SUFFIXES = ("ies", "es", "s", "ing", "ed")


def word_stem(lexeme: str) -> str | None:
    """A crude stem of a plain English word ("addresses" → "address"); None for symbols."""
    if not lexeme.isalpha() or not lexeme.isascii() or len(lexeme) < 5:
        return None
    for suffix in _SUFFIXES:
        if lexeme.endswith(suffix) and len(lexeme) - len(suffix) >= 4 and not lexeme.endswith("ss"):
            return lexeme[: -len(suffix)]
    return lexeme


# A register or field name: WHO_AM_I, CTRL1_XL, PRE_SCALE. The parser splits it at the
# underscores, often into stop words ("who", "am", "i"), so it is searched as a phrase.
_COMPOUND = re.compile(r"(?<![\w])[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+(?![\w])")


def compound_terms(text: str) -> list[str]:
    """The underscore-joined names in a text, lower-cased ("who_am_i")."""
    return list(dict.fromkeys(match.lower() for match in _COMPOUND.findall(text)))


def search_form(lexeme: str) -> str:
    """The tsquery text that finds a lexeme: a prefix query on a word's stem, a phrase for a
    compound name, else exact."""
    if "_" in lexeme:
        return " <-> ".join(search_form(part) for part in lexeme.split("_") if part)
    stem = word_stem(lexeme)
    if stem is not None:
        return "'" + stem + "':*"
    return "'" + lexeme.replace("'", "''").replace("\\", "\\\\") + "'"


def _filters(
    org: Organization, topic_ids: Sequence[int] | None, document_ids: Sequence[int] | None
) -> tuple[str, SqlParams]:
    sql = "c.org_id = %s"
    params: SqlParams = [org.pk]
    if document_ids is not None:
        sql += " AND c.document_id = ANY(%s)"
        params.append(list(document_ids))
    if topic_ids is not None:
        sql += (
            " AND EXISTS (SELECT 1 FROM library_document_topics dt"
            " WHERE dt.document_id = c.document_id AND dt.topic_id = ANY(%s))"
        )
        params.append(list(topic_ids))
    return sql, params


def query_terms(
    *,
    org: Organization,
    query_text: str,
    topic_ids: Sequence[int] | None = None,
    document_ids: Sequence[int] | None = None,
) -> QueryTerms:
    """Lexemes of the question as the `simple` parser makes them, minus stop words, with IDF.

    The tsvector is built by the same parser, so "0x76", "i2c", "vddio", "esp32-wroom-32"
    match exactly what the chunks hold. Frequencies are counted within the searched scope:
    once a search is narrowed to the BME280's datasheet, "bme280" tells its pages apart no
    more, and the words that do (say "address", "0x76") weigh more. The question is folded as
    ingestion folds the pages (NFKC: "µA" typed with the micro sign finds "μA", "I²C" "I2C").
    """
    query_text = unicodedata.normalize("NFKC", query_text)
    where, where_params = _filters(org, topic_ids, document_ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsvector_to_array(to_tsvector('simple', %s))", [query_text])
        lexemes = [lex for lex in cursor.fetchone()[0] if lex not in STOPWORDS and len(lex) < 60]
        lexemes += [name for name in compound_terms(query_text) if len(name) < 60]
        if not lexemes:
            return QueryTerms(weights={})
        forms = [search_form(lex) for lex in lexemes]
        counts = ", ".join("count(*) FILTER (WHERE c.search_vector @@ %s::tsquery)" for _ in forms)
        # Only chunks holding some term are counted (a GIN index scan), then the scope's size.
        cursor.execute(
            f"SELECT {counts} FROM library_chunk c WHERE {where} AND c.search_vector @@ %s::tsquery",
            [*forms, *where_params, " | ".join(forms)],
        )
        df = dict(zip(lexemes, cursor.fetchone(), strict=True))
        cursor.execute(f"SELECT count(*) FROM library_chunk c WHERE {where}", where_params)
        total = max(1, cursor.fetchone()[0])
    # BM25's IDF. Terms no chunk holds cannot rank anything; their weight is kept apart so
    # that a question made mostly of them is seen to be covered by no page.
    idf = {lex: math.log(1 + (total - df.get(lex, 0) + 0.5) / (df.get(lex, 0) + 0.5)) for lex in lexemes}
    absent = frozenset(lex for lex in lexemes if not df.get(lex))
    return QueryTerms(
        weights={lex: w for lex, w in idf.items() if lex not in absent},
        absent=absent,
        absent_weight=sum(idf[lex] for lex in absent),
    )


def _lexical_sql(terms: QueryTerms) -> tuple[str, SqlParams, str]:
    """An IDF-weighted count of matched terms, and the OR tsquery that finds candidates."""
    parts = []
    params: SqlParams = []
    for lex, weight in terms.weights.items():
        parts.append("(CASE WHEN c.search_vector @@ %s::tsquery THEN %s ELSE 0 END)")
        params.extend([search_form(lex), weight])
    or_query = " | ".join(search_form(lex) for lex in terms.weights)
    return " + ".join(parts), params, or_query


def chunk_search(
    *,
    org: Organization,
    query_text: str,
    query_embedding: Sequence[float],
    topic_ids: Sequence[int] | None = None,
    document_ids: Sequence[int] | None = None,
    limit: int = 20,
    terms: QueryTerms | None = None,
) -> list[SearchHit]:
    """The org's chunks best matching the question, by reciprocal rank fusion of dense + full-text.

    `topic_ids` / `document_ids` restrict the search (None: no restriction).
    """
    terms = (
        terms
        if terms is not None
        else query_terms(org=org, query_text=query_text, topic_ids=topic_ids, document_ids=document_ids)
    )
    where, where_params = _filters(org, topic_ids, document_ids)
    vector = "[" + ",".join(f"{float(x):.7g}" for x in query_embedding) + "]"
    dense: list[tuple[int, float]] = []
    lexical: list[tuple[int, float]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        # Filters are applied while walking the graph, and the walk continues until enough
        # rows pass them, so a small topic cannot come back empty.
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(f"SET LOCAL hnsw.ef_search = {_EF_SEARCH}")
        cursor.execute(
            "WITH nearest AS MATERIALIZED ("
            f" SELECT c.id, c.embedding <=> %s::vector AS distance FROM library_chunk c WHERE {where}"
            " ORDER BY c.embedding <=> %s::vector LIMIT %s)"
            " SELECT id, 1 - distance FROM nearest ORDER BY distance",  # relaxed order: re-sort
            [vector, *where_params, vector, _CANDIDATES],
        )
        dense = [(row[0], float(row[1])) for row in cursor.fetchall()]
        if terms.weights:
            score_sql, score_params, or_query = _lexical_sql(terms)
            cursor.execute(
                f"SELECT c.id, {score_sql} AS score FROM library_chunk c"
                f" WHERE {where} AND c.search_vector @@ %s::tsquery"
                " ORDER BY score DESC, ts_rank_cd(c.search_vector, %s::tsquery) DESC, c.id LIMIT %s",
                [*score_params, *where_params, or_query, or_query, _CANDIDATES],
            )
            lexical = [(row[0], float(row[1])) for row in cursor.fetchall()]

    fused: dict[int, float] = defaultdict(float)
    for rank, (chunk_id, _) in enumerate(dense):
        fused[chunk_id] += 1.0 / (_RRF_K + rank + 1)
    for rank, (chunk_id, _) in enumerate(lexical):
        fused[chunk_id] += 1.0 / (_RRF_K + rank + 1)
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
    similarity = dict(dense)
    lexical_score = dict(lexical)
    rows = {
        row["id"]: row
        for row in Chunk.objects.filter(pk__in=[chunk_id for chunk_id, _ in best]).values(
            "id", "document_id", "document__source_name", "page", "ordinal", "text"
        )
    }
    return [
        SearchHit(
            chunk_id=chunk_id,
            document_id=rows[chunk_id]["document_id"],
            source_name=rows[chunk_id]["document__source_name"],
            page=rows[chunk_id]["page"],
            ordinal=rows[chunk_id]["ordinal"],
            text=rows[chunk_id]["text"],
            score=score,
            dense_similarity=similarity.get(chunk_id),
            lexical_score=lexical_score.get(chunk_id),
        )
        for chunk_id, score in best
        if chunk_id in rows
    ]


def _join_chunks(texts: Iterable[str]) -> str:
    """A page's chunks (in order) joined back into its text, without the overlapping lines."""
    lines: list[str] = []
    for text in texts:
        new = text.split("\n")
        overlap = 0
        for size in range(min(len(lines), len(new)), 0, -1):
            if lines[-size:] == new[:size]:
                overlap = size
                break
        lines.extend(new[overlap:])
    return "\n".join(lines)


def _is_contents_page(text: str) -> bool:
    """Table-of-contents and index pages list every topic by name and match every question."""
    first_lines = [line.strip() for line in text.split("\n")[:5]]
    return len(_LEADER.findall(text)) >= 6 or any(_CONTENTS_HEADING.fullmatch(line) for line in first_lines)


def is_listing_page(text: str) -> bool:
    """A contents page or a revision history: it names topics and values without stating them."""
    return _is_contents_page(text) or _is_change_log(text)


def _is_change_log(text: str) -> bool:
    """Revision-history pages name the sections and values that changed, never stating them as specified."""
    lines = [line.strip() for line in text.split("\n")]
    return any(_CHANGE_LOG_HEADING.fullmatch(line) for line in lines) or (
        sum(1 for line in lines if _CHANGE_LINE.match(line)) >= 4
    )


def page_search(
    *,
    org: Organization,
    query_text: str,
    query_embedding: Sequence[float],
    topic_ids: Sequence[int] | None = None,
    document_ids: Sequence[int] | None = None,
    limit: int = 5,
    terms: QueryTerms | None = None,
) -> list[PageHit]:
    """Pages ranked for the question: what an answer cites.

    Candidates are the pages of the best fused chunks; each is then scored on the whole page
    (every chunk of it): the best dense similarity, the share of the question's rare terms
    the page contains (IDF-weighted), the largest share a few consecutive blocks hold, and
    the fused rank of its chunks. Contents pages and revision histories, which name
    everything and state nothing, are pushed down.

    The weights were chosen on two question sets together, the shared dev set and our own
    held-out one (bench/qa_extra.jsonl), as a region where neighbouring values do as well.
    """
    terms = (
        terms
        if terms is not None
        else query_terms(org=org, query_text=query_text, topic_ids=topic_ids, document_ids=document_ids)
    )
    hits = chunk_search(
        org=org,
        query_text=query_text,
        query_embedding=query_embedding,
        topic_ids=topic_ids,
        document_ids=document_ids,
        limit=40,
        terms=terms,
    )
    if not hits:
        return []
    fused_by_page: dict[tuple[int, int], list[SearchHit]] = defaultdict(list)
    for hit in hits:
        fused_by_page[(hit.document_id, hit.page)].append(hit)
    keys = list(fused_by_page)
    vector = "[" + ",".join(f"{float(x):.7g}" for x in query_embedding) + "]"
    lexemes = terms.lexemes
    match_sql = (
        "ARRAY[" + ", ".join("c.search_vector @@ %s::tsquery" for _ in lexemes) + "]::boolean[]"
        if lexemes
        else "ARRAY[]::boolean[]"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.document_id, d.source_name, c.page, c.ordinal, c.text,"
            f" 1 - (c.embedding <=> %s::vector), {match_sql}"
            " FROM library_chunk c JOIN library_document d ON d.id = c.document_id"
            " WHERE c.org_id = %s AND (c.document_id, c.page) IN"
            " (SELECT * FROM unnest(%s::bigint[], %s::int[]))"
            " ORDER BY c.document_id, c.page, c.ordinal",
            [vector, *[search_form(lex) for lex in lexemes], org.pk, [k[0] for k in keys], [k[1] for k in keys]],
        )
        rows = cursor.fetchall()
    per_page: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for row in rows:
        per_page[(row[1], row[3])].append(row)

    total_weight = sum(terms.weights.values()) or 1.0
    pages: list[PageHit] = []
    for key, page_rows in per_page.items():
        matched: set[str] = set()
        for row in page_rows:
            matched.update(lex for lex, hit in zip(lexemes, row[7], strict=True) if hit)
        coverage = sum(terms.weights[lex] for lex in matched) / total_weight
        similarities = sorted((float(row[6]) for row in page_rows), reverse=True)
        fused = sorted((hit.score for hit in fused_by_page[key]), reverse=True)
        text = _join_chunks(row[5] for row in page_rows)
        features = {
            "dense": similarities[0],
            "coverage": coverage,
            "coverage_all": coverage * terms.present_share,  # counting terms found nowhere
            "fused": (fused[0] + 0.5 * sum(fused[1:3])) * _RRF_K,
            "contents": 1.0 if is_listing_page(text) else 0.0,
        }
        pages.append(
            PageHit(
                document_id=key[0],
                source_name=page_rows[0][2],
                page=key[1],
                score=0.0,
                chunks=sorted(fused_by_page[key], key=lambda h: -h.score),
                text=text,
                features=features,
            )
        )
    if not pages:  # the chunks found were deleted (a document replaced) since the search
        return []
    for page in pages:
        features = page.features
        page.score = features["dense"] + 0.6 * features["coverage"] + 0.15 * features["fused"] - features["contents"]
    # The window signal adds at most _WINDOW_WEIGHT: only pages within that of the last place
    # that counts can still reach it, so only they are split into blocks (the costly part).
    cut = sorted((page.score for page in pages), reverse=True)[min(limit, len(pages)) - 1] - _WINDOW_WEIGHT
    contenders = [page for page in pages if page.score >= cut]
    for page, window in zip(contenders, window_coverage([p.text for p in contenders], terms), strict=True):
        page.features["window"] = window
        page.score += _WINDOW_WEIGHT * window
    pages.sort(key=lambda p: (-p.score, p.source_name, p.page))
    return pages[:limit]


# Consecutive blocks (paragraphs, table rows) that make one passage for the window feature.
_WINDOW_BLOCKS = 3
_WINDOW_WEIGHT = 0.3


def window_coverage(texts: Sequence[str], terms: QueryTerms) -> list[float]:
    """For each page, the largest share of the question's (IDF-weighted) terms that a few
    consecutive blocks hold: an answer sits in one passage or table row group, where a long
    page may hold the same terms scattered over unrelated paragraphs."""
    total = sum(terms.weights.values())
    if not total:
        return [0.0 for _ in texts]
    blocks_of = [text_blocks(text) for text in texts]
    lexemes = iter(text_lexemes(texts=[block for blocks in blocks_of for block in blocks]))
    result = []
    for blocks in blocks_of:
        matched = [terms.matched(next(lexemes)) for _ in blocks]
        best = 0.0
        for start in range(len(matched)):
            held = set().union(*matched[start : start + _WINDOW_BLOCKS])
            best = max(best, sum(terms.weights[lex] for lex in held) / total)
        result.append(best)
    return result


def page_text(*, org: Organization, document_id: int, page: int) -> PageHit | None:
    """One page of one of the org's documents, with its chunks; None if it has no text."""
    chunks = list(
        Chunk.objects.filter(org=org, document_id=document_id, page=page).select_related("document").order_by("ordinal")
    )
    if not chunks:
        return None
    hits = [
        SearchHit(
            chunk_id=c.pk,
            document_id=c.document_id,
            source_name=c.document.source_name,
            page=c.page,
            ordinal=c.ordinal,
            text=c.text,
            score=0.0,
        )
        for c in chunks
    ]
    return PageHit(
        document_id=document_id,
        source_name=chunks[0].document.source_name,
        page=page,
        score=0.0,
        chunks=hits,
        text=_join_chunks(c.text for c in chunks),
    )


def document_list(*, org: Organization, topic_ids: Sequence[int] | None = None) -> QuerySet[Document]:
    """The org's documents that have text to search, optionally within topics."""
    documents = Document.objects.filter(org=org, chunks__isnull=False).distinct()
    if topic_ids is not None:
        documents = documents.filter(topics__in=list(topic_ids)).distinct()
    return documents.prefetch_related("topics").order_by("source_name")


def document_by_source_name(*, org: Organization, source_name: str) -> Document | None:
    return Document.objects.filter(org=org, source_name__iexact=source_name.strip()).first()


def part_numbers_in(text: str) -> list[re.Match[str]]:
    """The part numbers written in a text, as matches ("BME280", "ICL7660A", "ESP32-WROOM-32")."""
    return [
        match
        for match in _PART_TOKEN.finditer(text)
        if len(token := _alnum(match.group())) >= 4
        and sum(ch.isdigit() for ch in token) >= 2
        and sum(ch.isalpha() for ch in token) >= 2
    ]


def part_number_names(part_number: str, source_name: str) -> bool:
    """Whether a part number names the document of this file: the file name contains it, or it
    extends a word of the file name by a suffix letter or two (ICL7660A → renesas-icl7660.pdf)."""
    token = _alnum(part_number)
    stem = source_name.rsplit(".", 1)[0]
    words = {_alnum(w) for w in re.split(r"[-_ .]+", stem) if w}
    return token in _alnum(stem) or any(len(w) >= 4 and token.startswith(w) and len(token) - len(w) <= 2 for w in words)


# A part number whose digits follow a hyphen ("MPU-6050"): not a name `part_numbers_in` takes
# for a document's, but a part a question may ask about all the same.
_HYPHENATED_PART = re.compile(r"(?<![\w.])[A-Za-z]{2,}[A-Za-z0-9]*-\d{2,}[A-Za-z0-9-]*(?![\w.])")


def parts_unknown_to_library(*, org: Organization, text: str) -> list[str]:
    """Part numbers in the text that no document of the org names and no page mentions.

    "MPU-6050" in a library of other parts is unknown; "SOT-223" (a package a datasheet
    mentions) or "ADS1113" (a sibling part named inside the ADS1115's datasheet) is not.
    """
    unknown: list[str] = []
    names = list(Document.objects.filter(org=org).values_list("source_name", flat=True))
    if not names:
        return []  # an empty library: nothing to tell a part's absence from
    tokens = [match.group() for match in part_numbers_in(text)]
    tokens += [match.group() for match in _HYPHENATED_PART.finditer(text) if match.group() not in tokens]
    for token in tokens:
        if token in unknown or any(part_number_names(token, name) for name in names):
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM library_chunk WHERE org_id = %s AND search_vector @@ phraseto_tsquery('simple', %s)"
                " LIMIT 1",
                [org.pk, unicodedata.normalize("NFKC", token)],
            )
            if cursor.fetchone() is None:
                unknown.append(token)
    return unknown


def documents_named_in(*, org: Organization, text: str) -> list[Document]:
    """Documents whose file name contains a part number written in the text ("BME280", "ICL7660A"),
    in the order the text first names them."""
    first_seen: dict[str, int] = {}
    for match in part_numbers_in(text):
        first_seen.setdefault(match.group(), match.start())
    if not first_seen:
        return []
    found: list[tuple[int, Document]] = []
    for document in Document.objects.filter(org=org).order_by("source_name"):
        positions = [
            position for token, position in first_seen.items() if part_number_names(token, document.source_name)
        ]
        if positions:
            found.append((min(positions), document))
    return [document for _, document in sorted(found, key=lambda item: item[0])]


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def topics_of_documents(*, document_ids: Sequence[int]) -> list[Topic]:
    return list(Topic.objects.filter(documents__in=list(document_ids)).distinct().order_by("name"))


def text_blocks(text: str) -> list[str]:
    """Lines joined back into paragraphs: a PDF wraps prose at the column width, so a long
    line that does not end a sentence continues on the next one. Short lines (table rows,
    headings) stay on their own. (Joining short lines too, for two-column pages, was tried:
    it merged table rows into prose and lost more answers than it gained.)"""
    blocks: list[str] = []
    current = ""
    for line in (line.strip() for line in text.split("\n")):
        if not line:
            continue
        if current and len(current.rsplit("\n", 1)[-1]) >= _WRAPPED_LINE and not current.endswith((".", ":", "!", "?")):
            current += "\n" + line
        else:
            if current:
                blocks.append(current)
            current = line
    if current:
        blocks.append(current)
    return [block.replace("\n", " ") for block in blocks]


def text_lexemes(*, texts: Sequence[str]) -> list[set[str]]:
    """Each text's lexemes as full-text search sees them (the `simple` parser), in order."""
    if not texts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tsvector_to_array(to_tsvector('simple', t)) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n)"
            " ORDER BY n",
            [list(texts)],
        )
        return [set(row[0]) for row in cursor.fetchall()]


def documents_for_org(*, org: Organization) -> QuerySet[Document]:
    """Every document of the org, whatever its status, for the library API and pages."""
    return Document.objects.filter(org=org).prefetch_related("topics").order_by("source_name")


def document_get(*, org: Organization, document_id: int) -> Document | None:
    """The org's document with this id; None for an unknown id or another org's document."""
    return Document.objects.filter(org=org, pk=document_id).prefetch_related("topics").first()
