"""The search SQL, all of it: term counts, the hybrid chunk search, page rows, text lexemes.

The hybrid search is pgvector cosine distance on the HNSW index and Postgres full-text
search over the `simple` tsvector, fused by reciprocal rank fusion, with org, topic and
document filters inside the SQL. Nothing else in the project orders by vector distance.
Terms are split by the same `simple` parser that built the index, so the answerer's idea of
a text's terms is exactly the index's.
"""

import json
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from library.models import Chunk, Document
from library.search.terms import (
    HeldTerms,
    QueryTerms,
    query_terms_weighed,
    question_terms,
    search_form,
    without_parts_of,
    without_possessives,
    word_pairs,
)
from orgs.models import Organization

# Parameters of the raw SQL below: ids, id lists, tsquery texts and weights.
SqlParams = list[int | float | str | list[int]]
# One chunk of a candidate page: id, document id, file name, page, ordinal, text, cosine
# similarity to the question, and whether it holds each of the question's terms.
PageRow = tuple[int, int, str, int, int, str, float, list[bool]]


@dataclass(frozen=True)
class ChunkHit:
    """One chunk found by `chunk_search`; `score` is its fused RRF score."""

    chunk_id: int
    document_id: int
    source_name: str
    page: int
    ordinal: int
    text: str
    score: float


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


def _scope_key(
    org: Organization, topic_ids: Sequence[int] | None, document_ids: Sequence[int] | None
) -> tuple[int, tuple[int, ...] | None, tuple[int, ...] | None]:
    return (
        org.pk,
        None if topic_ids is None else tuple(sorted(topic_ids)),
        None if document_ids is None else tuple(sorted(document_ids)),
    )


def _vector(embedding: Sequence[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in embedding) + "]"


# Bits of a bigint a term mask uses (sign bit spared).
_MASK_BITS = 62


def query_terms(
    *,
    org: Organization,
    query_text: str,
    topic_ids: Sequence[int] | None = None,
    document_ids: Sequence[int] | None = None,
    identifier_weight: float = 1.0,
    row_scan_chunks: int = 0,
    query_embedding: Sequence[float] | None = None,
    candidates: int = 0,
) -> QueryTerms:
    """Lexemes of the question as the `simple` parser makes them, minus stop words, with IDF.

    The tsvector is built by the same parser, so "0x76", "i2c", "vddio", "esp32-wroom-32"
    match exactly what the chunks hold. Frequencies are counted within the searched scope:
    once a search is narrowed to the BME280's datasheet, "bme280" tells its pages apart no
    more, and the words that do (say "address", "0x76") weigh more. The question is folded as
    ingestion folds the pages (NFKC: "µA" typed with the micro sign finds "μA", "I²C" "I2C").
    A scope of at most `row_scan_chunks` chunks is read row by row (see `chunk_search`), once:
    which terms each chunk holds is kept with the terms, for `chunk_search` to rank from, and
    with `query_embedding`, the `candidates` chunks nearest it, measured in the same pass.
    """
    query_text = without_possessives(unicodedata.normalize("NFKC", query_text))
    if document_ids:
        named = Document.objects.filter(pk__in=list(document_ids)).values_list("source_name", "profile")
        query_text = without_parts_of(query_text, list(named))
    where, where_params = _filters(org, topic_ids, document_ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsvector_to_array(to_tsvector('simple', %s))", [query_text])
        lexemes = question_terms(cursor.fetchone()[0], query_text)
        if not lexemes:
            return QueryTerms(weights={})
        forms = [search_form(lex) for lex in lexemes]
        narrowed = topic_ids is not None or document_ids is not None
        size = _scope_size(cursor, org, where, where_params, narrowed=narrowed, row_scan_chunks=row_scan_chunks)
        if size is None or size <= row_scan_chunks:
            nearest_to = None if query_embedding is None or not candidates else (tuple(query_embedding), candidates)
            patterns, counted, nearest = _terms_held(cursor, lexemes, where, where_params, nearest_to=nearest_to)
            held = HeldTerms(
                scope=_scope_key(org, topic_ids, document_ids),
                lexemes=tuple(lexemes),
                patterns=patterns,
                nearest=nearest,
                nearest_to=nearest_to,
            )
            df = {lex: held.chunks_holding(lex) for lex in lexemes}
            terms = query_terms_weighed(lexemes, df, max(1, counted), identifier_weight=identifier_weight)
            return replace(terms, held=held, pairs=word_pairs(query_text, terms.weights))
        total = max(1, size)
        # Only chunks holding some term are counted (a GIN index scan).
        counts = ", ".join("count(*) FILTER (WHERE c.search_vector @@ %s::tsquery)" for _ in forms)
        cursor.execute(
            f"SELECT {counts} FROM library_chunk c WHERE {where} AND c.search_vector @@ %s::tsquery",
            [*forms, *where_params, " | ".join(forms)],
        )
        df = dict(zip(lexemes, cursor.fetchone(), strict=True))
    terms = query_terms_weighed(lexemes, df, total, identifier_weight=identifier_weight)
    return replace(terms, pairs=word_pairs(query_text, terms.weights))


def _scope_size(
    cursor: CursorWrapper,
    org: Organization,
    where: str,
    where_params: SqlParams,
    *,
    narrowed: bool,
    row_scan_chunks: int,
) -> int | None:
    """How many chunks the scope holds; None when it cannot hold more than `row_scan_chunks`
    (a topic or document scope within an org that small), so its pass over its rows counts it.

    The org's chunks are counted from its index alone; a topic's would be counted from its
    documents' chunks' rows, fetched from the heap for their org_id: as costly as the pass.
    """
    cursor.execute("SELECT count(*) FROM library_chunk c WHERE c.org_id = %s", [org.pk])
    org_chunks = int(cursor.fetchone()[0])
    if not narrowed:
        return org_chunks
    if org_chunks <= row_scan_chunks:
        return None
    cursor.execute(f"SELECT count(*) FROM library_chunk c WHERE {where}", where_params)
    return int(cursor.fetchone()[0])


def _terms_held(
    cursor: CursorWrapper,
    lexemes: Sequence[str],
    where: str,
    where_params: SqlParams,
    *,
    nearest_to: tuple[Sequence[float], int] | None = None,
) -> tuple[dict[int, tuple[int, str]], int, tuple[int, ...]]:
    """The scope's chunks holding any of the terms, grouped by which of them they hold (bit i:
    the i-th term), each pattern with its count of chunks and their ids (see `HeldTerms`); how
    many chunks the scope holds; and with `nearest_to` (a question vector and how many), the
    chunks nearest it, nearest first, as the row scan of `_dense_candidates`
    finds them: one pass over the scope's rows, found by its org or document btree index.

    Each row's terms are tested once, in the subquery (its OFFSET 0, or the materialized CTE,
    keeps the planner from pushing the test of the masks into it, where it would test them
    again, and keeps the GIN and HNSW indexes out: they hold every org's chunks). A tsvector
    and embedding kept in the row (STORAGE MAIN, library migration 0006) are read where they
    lie. Grouping on the server sends a row a pattern, not a row a chunk: a common term is held
    by most of the scope.
    """
    forms = [search_form(lex) for lex in lexemes]
    parts = range(0, len(forms), _MASK_BITS)
    masks = ", ".join(
        " + ".join(
            f"(CASE WHEN c.search_vector @@ %s::tsquery THEN {1 << bit}::bigint ELSE 0 END)"
            for bit in range(len(forms[start : start + _MASK_BITS]))
        )
        + f" AS m{part}"
        for part, start in enumerate(parts)
    )
    columns = ", ".join(f"s.m{part}" for part in range(len(parts)))
    grouped = (
        f"SELECT {columns}, count(*), string_agg(s.id::text, ',') FILTER"
        f" (WHERE {' OR '.join(f's.m{part} <> 0' for part in range(len(parts)))})"
    )
    if nearest_to is None:
        sql = f"{grouped} FROM (SELECT c.id, {masks} FROM library_chunk c WHERE {where} OFFSET 0) s GROUP BY {columns}"
        params: SqlParams = [*forms, *where_params]
    else:
        # The nearest as `_dense_candidates` orders them: its top-N sort, then its sort of those.
        sql = (
            f"WITH s AS MATERIALIZED (SELECT c.id, {masks}, c.embedding <=> %s::vector AS distance"
            f" FROM library_chunk c WHERE {where}) {grouped}, (SELECT string_agg(n.id::text, ',' ORDER BY n.distance)"
            f" FROM (SELECT s.id, s.distance FROM s ORDER BY s.distance LIMIT %s) n) FROM s GROUP BY {columns}"
        )
        params = [*forms, _vector(nearest_to[0]), *where_params, nearest_to[1]]
    cursor.execute(sql, params)
    return _held_rows(cursor.fetchall(), len(parts))


def _held_rows(rows: list[tuple], width: int) -> tuple[dict[int, tuple[int, str]], int, tuple[int, ...]]:
    """`_terms_held`'s rows (masks, count, ids, and maybe the nearest) as its result."""
    patterns, scope_chunks, nearest = {}, 0, ""
    for row in rows:
        scope_chunks += row[width]
        pattern = sum(mask << (part * _MASK_BITS) for part, mask in enumerate(row[:width]))
        if pattern:
            patterns[pattern] = (int(row[width]), str(row[width + 1]))
        nearest = row[width + 2] if len(row) > width + 2 else ""
    return patterns, scope_chunks, tuple(int(chunk_id) for chunk_id in nearest.split(",") if chunk_id)


def chunk_search(
    *,
    org: Organization,
    terms: QueryTerms,
    query_embedding: Sequence[float],
    topic_ids: Sequence[int] | None,
    document_ids: Sequence[int] | None,
    limit: int,
    candidates: int,
    ef_search: int,
    rrf_k: int,
    kept_lexical: int,
    row_scan_chunks: int = 0,
) -> list[ChunkHit]:
    """The org's chunks best matching the question, by reciprocal rank fusion of dense + full-text.

    `candidates` chunks are taken from each search; `topic_ids` / `document_ids` restrict
    both (None: no restriction). The first `kept_lexical` full-text matches are kept even
    when fusion ranks them below `limit`. A scope of at most `row_scan_chunks` chunks is read
    row by row from its org or document index, with exact distances, instead of walking the
    HNSW and GIN indexes, which hold every org's chunks: there, most of what the walk finds
    belongs to other orgs and is thrown away after it has been paid for.
    """
    where, where_params = _filters(org, topic_ids, document_ids)
    with transaction.atomic(), connection.cursor() as cursor:
        scope = terms.scope_chunks
        if scope is None and row_scan_chunks:
            cursor.execute(f"SELECT count(*) FROM library_chunk c WHERE {where}", where_params)
            scope = cursor.fetchone()[0]
        row_scan = scope is not None and scope <= row_scan_chunks
        scope_key = _scope_key(org, topic_ids, document_ids)
        held = terms.held if terms.held is not None and terms.held.scope == scope_key else None
        if row_scan and held is not None and held.nearest_to == (tuple(query_embedding), candidates):
            dense = list(held.nearest)  # measured by query_terms' pass over the same rows
        else:
            dense = _dense_candidates(
                cursor, query_embedding, where, where_params, candidates, ef_search, row_scan=row_scan
            )
        if not terms.weights:
            lexical = []
        elif row_scan:
            if held is None:
                lexemes = list(terms.weights)
                patterns, _, _ = _terms_held(cursor, lexemes, where, where_params)
                held = HeldTerms(scope=scope_key, lexemes=tuple(lexemes), patterns=patterns)
            lexical = _lexical_ranked(cursor, terms, held, candidates)
        else:
            lexical = _lexical_candidates(cursor, terms, where, where_params, candidates)
    fused: dict[int, float] = defaultdict(float)
    for ranking in (dense, lexical):
        for rank, chunk_id in enumerate(ranking):
            fused[chunk_id] += 1.0 / (rrf_k + rank + 1)
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    best = ranked[:limit]
    chosen = {chunk_id for chunk_id, _ in best}
    missing = [(chunk_id, fused[chunk_id]) for chunk_id in lexical[:kept_lexical] if chunk_id not in chosen]
    if missing:
        best = best[: max(0, limit - len(missing))] + missing
    return _hits(best)


def _dense_candidates(
    cursor: CursorWrapper,
    query_embedding: Sequence[float],
    where: str,
    where_params: SqlParams,
    candidates: int,
    ef_search: int,
    *,
    row_scan: bool,
) -> list[int]:
    """The scope's chunks nearest the question, nearest first (call inside a transaction)."""
    if row_scan:
        # Exact nearest neighbours among the scope's rows, found by whichever of its btree
        # indexes fits the filter: ordering outside the subquery (OFFSET 0 keeps it there)
        # leaves the HNSW index out.
        cursor.execute(
            "WITH nearest AS MATERIALIZED ("
            " SELECT s.id, s.distance FROM (SELECT c.id, c.embedding <=> %s::vector AS distance"
            f" FROM library_chunk c WHERE {where} OFFSET 0) s ORDER BY s.distance LIMIT %s)"
            " SELECT id, 1 - distance FROM nearest ORDER BY distance",
            [_vector(query_embedding), *where_params, candidates],
        )
    else:
        # Filters are applied while walking the graph, and the walk continues until enough
        # rows pass them, so a small topic cannot come back empty.
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(f"SET LOCAL hnsw.ef_search = {ef_search}")
        cursor.execute(
            "WITH nearest AS MATERIALIZED ("
            f" SELECT c.id, c.embedding <=> %s::vector AS distance FROM library_chunk c WHERE {where}"
            " ORDER BY c.embedding <=> %s::vector LIMIT %s)"
            " SELECT id, 1 - distance FROM nearest ORDER BY distance",  # relaxed order: re-sort
            [_vector(query_embedding), *where_params, _vector(query_embedding), candidates],
        )
    return [row[0] for row in cursor.fetchall()]


def _lexical_candidates(
    cursor: CursorWrapper, terms: QueryTerms, where: str, where_params: SqlParams, candidates: int
) -> list[int]:
    """Chunks holding the question's terms, by an IDF-weighted count of the terms each holds
    (then `ts_rank_cd`, then id), from the GIN index."""
    parts = []
    score_params: SqlParams = []
    for lex, weight in terms.weights.items():
        parts.append("(CASE WHEN c.search_vector @@ %s::tsquery THEN %s ELSE 0 END)")
        score_params.extend([search_form(lex), weight])
    cursor.execute(
        f"SELECT c.id, {' + '.join(parts)} AS score FROM library_chunk c"
        f" WHERE {where} AND c.search_vector @@ %s::tsquery"
        " ORDER BY score DESC, ts_rank_cd(c.search_vector, %s::tsquery) DESC, c.id LIMIT %s",
        [*score_params, *where_params, _or_query(terms), _or_query(terms), candidates],
    )
    return [row[0] for row in cursor.fetchall()]


def _or_query(terms: QueryTerms) -> str:
    return " | ".join(search_form(lex) for lex in terms.weights)


def _lexical_ranked(cursor: CursorWrapper, terms: QueryTerms, held: HeldTerms, candidates: int) -> list[int]:
    """`_lexical_candidates`' ranking, from the terms each chunk of the scope holds.

    The score is summed as SQL sums it there (the weights are numeric literals, so exactly: as
    Decimals of their shortest repr), and `ts_rank_cd` is asked only for the chunks that can
    still make the cut, those scoring at least the `candidates`-th best score.
    """
    weights = {lex: Decimal(repr(weight)) for lex, weight in terms.weights.items()}
    index = {lex: i for i, lex in enumerate(held.lexemes)}
    scored: list[tuple[Decimal, int, str]] = []  # a pattern's score, its chunks and their ids
    with localcontext() as exact:
        exact.prec = 60
        for found, (count, ids) in held.patterns.items():
            score = sum((w for lex, w in weights.items() if lex in index and found >> index[lex] & 1), Decimal(0))
            if score > 0:
                scored.append((score, count, ids))
    if not scored:
        return []
    # The cut: the score of the `candidates`-th best chunk (or of the last, if fewer).
    scored.sort(key=lambda pattern: -pattern[0])
    wanted = min(candidates, sum(count for _, count, _ in scored))
    seen, cut = 0, scored[-1][0]
    for score, count, _ in scored:
        seen += count
        if seen >= wanted:
            cut = score
            break
    scores = {int(chunk_id): score for score, _, ids in scored if score >= cut for chunk_id in ids.split(",")}
    contenders = list(scores)
    cursor.execute(
        "SELECT c.id, ts_rank_cd(c.search_vector, %s::tsquery) FROM library_chunk c WHERE c.id = ANY(%s)",
        [_or_query(terms), contenders],
    )
    rank = dict(cursor.fetchall())
    ordered = sorted((chunk_id for chunk_id in contenders if chunk_id in rank), key=lambda c: (-scores[c], -rank[c], c))
    return ordered[:candidates]


def _hits(best: list[tuple[int, float]]) -> list[ChunkHit]:
    rows = {
        row["id"]: row
        for row in Chunk.objects.filter(pk__in=[chunk_id for chunk_id, _ in best]).values(
            "id", "document_id", "document__source_name", "page", "ordinal", "text"
        )
    }
    return [
        ChunkHit(
            chunk_id=chunk_id,
            document_id=rows[chunk_id]["document_id"],
            source_name=rows[chunk_id]["document__source_name"],
            page=rows[chunk_id]["page"],
            ordinal=rows[chunk_id]["ordinal"],
            text=rows[chunk_id]["text"],
            score=score,
        )
        for chunk_id, score in best
        if chunk_id in rows  # deleted (a document replaced) since the search
    ]


def page_rows(
    *, org: Organization, pages: Sequence[tuple[int, int]], query_embedding: Sequence[float], terms: QueryTerms
) -> list[PageRow]:
    """Every chunk of the given (document id, page) pages, in order, with its similarity to the
    question and which of the question's terms it holds."""
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
            [
                _vector(query_embedding),
                *[search_form(lex) for lex in lexemes],
                org.pk,
                [key[0] for key in pages],
                [key[1] for key in pages],
            ],
        )
        return cursor.fetchall()


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


def terms_in_lines(
    *, lines: Sequence[str], forms: Sequence[str | None], lexemes_like: str | None = None
) -> tuple[list[int], list[list[str]]]:
    """For each line (no line break in it), which of the terms it holds, as a mask (bit i: the
    term of `forms[i]`, a tsquery text; None: a term no text holds), its lexemes made by the
    `simple` parser as `text_lexemes` makes them; and with `lexemes_like` (a regular
    expression), each line's lexemes it matches (else empty lists). The lines travel as one
    text and come back as one row: thousands of lines a question cost one short round trip."""
    if not lines:
        return [], []
    parts = range(0, max(1, len(forms)), _MASK_BITS)
    params: SqlParams = []
    columns = []
    for start in parts:
        tests = []
        for bit, form in enumerate(forms[start : start + _MASK_BITS]):
            if form is not None:
                tests.append(f"(CASE WHEN s.v @@ %s::tsquery THEN {1 << bit}::bigint ELSE 0 END)")
                params.append(form)
        columns.append(f"string_agg(({' + '.join(tests) or '0::bigint'})::text, ',' ORDER BY s.n)")
    if lexemes_like is not None:
        columns.append("json_agg(ARRAY(SELECT l FROM unnest(tsvector_to_array(s.v)) AS l WHERE l ~ %s) ORDER BY s.n)")
        params.append(lexemes_like)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM (SELECT to_tsvector('simple', u.t) AS v, u.n"
            " FROM string_to_table(%s, E'\\n') WITH ORDINALITY AS u(t, n) OFFSET 0) s",
            [*params, "\n".join(lines)],
        )
        row = cursor.fetchone()
    masks = [0] * len(lines)
    for part in range(len(parts)):
        for i, mask in enumerate(row[part].split(",") if row[part] is not None else []):  # None: one empty line
            masks[i] |= int(mask) << (part * _MASK_BITS)
    found = row[len(parts)] if lexemes_like is not None and row[len(parts)] is not None else []
    if isinstance(found, str):  # json as the driver hands it over, unparsed
        found = json.loads(found)
    return masks, found or [[] for _ in lines]


def library_mentions(*, org: Organization, phrase: str) -> bool:
    """Whether any chunk of the org's library holds this phrase (as full-text search reads it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM library_chunk WHERE org_id = %s AND search_vector @@ phraseto_tsquery('simple', %s) LIMIT 1",
            [org.pk, unicodedata.normalize("NFKC", phrase)],
        )
        return cursor.fetchone() is not None


def documents_mentioning(*, org: Organization, phrase: str) -> int:
    """How many of the org's documents have the phrase, its words in order, in their text."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT document_id) FROM library_chunk"
            " WHERE org_id = %s AND search_vector @@ phraseto_tsquery('simple', %s)",
            [org.pk, unicodedata.normalize("NFKC", phrase)],
        )
        return int(cursor.fetchone()[0])


def words_held(*, org: Organization, words: Sequence[str]) -> dict[int, int]:
    """For each of the org's documents that holds any of these words somewhere (each as a word or
    the start of one: "converter" in "converters"), how many of them it holds."""
    if not words:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.document_id, count(DISTINCT w.word) FROM library_chunk c CROSS JOIN unnest(%s::text[]) AS w(word)"
            " WHERE c.org_id = %s AND c.search_vector @@ to_tsquery('simple', quote_literal(w.word) || ':*')"
            " GROUP BY c.document_id",
            [sorted({word.lower() for word in words}), org.pk],
        )
        return {row[0]: row[1] for row in cursor.fetchall()}
