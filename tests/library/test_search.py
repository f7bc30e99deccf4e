"""library/search: the hybrid search, its filters and its page ranking, on the real datasheets."""

from collections.abc import Callable, Sequence

import pytest
from django.db import connection, transaction

from library.embeddings import embed_query
from library.models import Chunk, Document
from library.search import QueryTerms, page_read, page_search, query_terms, text_blocks, text_lexemes
from library.search import sql as search_sql
from library.search.ranking import KNOBS, terms_in_blocks, window_coverage
from library.search.sql import ChunkHit, chunk_search
from library.selectors import documents_named_in
from orgs.models import Organization
from topics.models import Topic

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _search(
    org: Organization,
    text: str,
    *,
    limit: int,
    topic_ids: Sequence[int] | None = None,
    document_ids: Sequence[int] | None = None,
    row_scan_chunks: int = KNOBS.row_scan_chunks,
) -> list[ChunkHit]:
    return chunk_search(
        org=org,
        terms=query_terms(
            org=org,
            query_text=text,
            topic_ids=topic_ids,
            document_ids=document_ids,
            row_scan_chunks=row_scan_chunks,
        ),
        query_embedding=[float(x) for x in embed_query(text)],
        topic_ids=topic_ids,
        document_ids=document_ids,
        limit=limit,
        candidates=KNOBS.candidates,
        ef_search=KNOBS.ef_search,
        rrf_k=KNOBS.rrf_k,
        kept_lexical=KNOBS.kept_lexical,
        row_scan_chunks=row_scan_chunks,
    )


def test_an_exact_symbol_pulls_the_chunks_that_contain_it(datasheets_org) -> None:
    hits = _search(datasheets_org, "0x76 VDDIO SDO", limit=10)
    assert hits[0].source_name == "bosch-bme280.pdf"
    # full-text search ranks the chunk holding the rare symbol first; fusion keeps it in
    assert any("0x76" in hit.text for hit in hits)


def test_a_small_topic_still_fills_the_result_thanks_to_iterative_index_scans(datasheets_org) -> None:
    wireless = Topic.objects.get(org=datasheets_org, name="Wireless")
    hits = _search(datasheets_org, "I2C slave address of the accelerometer", topic_ids=[wireless.pk], limit=15)
    assert len(hits) == 15
    assert {hit.source_name for hit in hits} == {"espressif-esp32-wroom-32.pdf"}


def test_another_orgs_chunks_are_never_found(datasheets_org, other_org) -> None:
    assert _search(other_org, "BME280 I2C address 0x76", limit=10) == []
    assert Document.objects.filter(org=other_org).count() == 0


def test_document_filter_keeps_to_the_named_documents(datasheets_org) -> None:
    named = documents_named_in(org=datasheets_org, text="Is the ICL7660A or the IRF540N rated higher?")
    assert sorted(d.source_name for d in named) == ["infineon-irf540n.pdf", "renesas-icl7660.pdf"]
    hits = _search(datasheets_org, "maximum supply voltage", document_ids=[d.pk for d in named], limit=10)
    assert {hit.source_name for hit in hits} <= {"infineon-irf540n.pdf", "renesas-icl7660.pdf"}


def test_page_search_ranks_the_page_that_answers_first(datasheets_org) -> None:
    question = "What is the SPI RESET instruction byte of the MCP2515?"
    pages = page_search(org=datasheets_org, query=question, limit=5).pages
    assert [(p.source_name, p.page) for p in pages][:3].count(("microchip-mcp2515.pdf", 64)) == 1
    assert all(p.text for p in pages)


def test_parts_are_listed_in_the_order_the_question_names_them(datasheets_org) -> None:
    named = documents_named_in(org=datasheets_org, text="Which runs hotter, the ICL7660A or the IRF540N?")
    assert [d.source_name for d in named] == ["renesas-icl7660.pdf", "infineon-irf540n.pdf"]
    named = documents_named_in(org=datasheets_org, text="Which runs hotter, the IRF540N or the ICL7660A?")
    assert [d.source_name for d in named] == ["infineon-irf540n.pdf", "renesas-icl7660.pdf"]


def test_a_register_name_made_of_stop_words_is_searched_as_a_phrase(datasheets_org) -> None:
    # "WHO_AM_I" parses into "who", "am", "i": all stop words, so without the phrase the
    # question would carry no trace of the register it asks about.
    question = "What does WHO_AM_I return?"
    terms = query_terms(org=datasheets_org, query_text=question)
    assert "who_am_i" in terms.weights
    pages = page_search(org=datasheets_org, query=question, limit=3).pages
    assert pages[0].source_name == "st-lsm6ds33.pdf"
    assert "WHO_AM_I" in pages[0].text


def test_a_possessive_is_no_term_of_its_own(datasheets_org) -> None:
    # "ADS1115's" parses into "ads1115" and "s"; a rare "s" would outweigh "address".
    for question in ("What are the ADS1115's I2C addresses?", "What are the ADS1115\u2019s I2C addresses?"):
        terms = query_terms(org=datasheets_org, query_text=question)
        assert set(terms.weights) | set(terms.absent) == {"ads1115", "i2c", "addresses"}


def test_revision_histories_and_contents_pages_do_not_lead_the_ranking(datasheets_org) -> None:
    # The ESP32 module's revision history (pp. 25-27) and its lists of tables and figures
    # (pp. 3-5) name "strapping pins" more often than the page that lists them.
    question = "Which strapping pins does the ESP32-WROOM-32 have?"
    esp32 = Document.objects.get(org=datasheets_org, source_name="espressif-esp32-wroom-32.pdf")
    pages = page_search(org=datasheets_org, query=question, document_ids=[esp32.pk], limit=5).pages
    assert pages[0].page == 10
    assert not {p.page for p in pages[:3]} & {3, 4, 5, 25, 26, 27}
    assert all(p.features is not None and p.features.contents == 0 for p in pages[:3])


def test_a_passage_holding_the_terms_together_outweighs_the_same_terms_scattered(db) -> None:
    terms = QueryTerms(weights={"crystal": 2.0, "flash": 2.0, "frequency": 1.0})
    filler = "\n".join(f"Unrelated paragraph number {n} about packaging." for n in range(6))
    together = f"Integrated crystal 40 MHz\nIntegrated SPI flash 4 MB\nClock frequency 40 MHz\n{filler}"
    scattered = f"The crystal is on the board.\n{filler}\nThe flash is external.\n{filler}\nAny frequency."
    close, apart = window_coverage([together, scattered], terms)
    assert close == pytest.approx(1.0)
    assert apart < 0.5


def test_a_micro_amp_value_is_found_by_a_question_typed_with_the_micro_sign(datasheets_org) -> None:
    # Keyboards type U+00B5 MICRO SIGN; datasheets set U+03BC GREEK SMALL LETTER MU (or a
    # Symbol-font glyph that ingestion maps to it). Both sides are NFKC-folded to the latter.
    question = "ADXL345 standby current 0.1 \u00b5A"
    terms = query_terms(org=datasheets_org, query_text=question)
    assert "\u03bca" in terms.weights  # held by some page: not among the absent terms
    hits = _search(datasheets_org, question, limit=10)
    assert any("0.1 \u03bcA" in hit.text for hit in hits)


def _plans_of(run: Callable[[], object]) -> list[str]:
    """The plans of the chunk queries `run` sends, each explained after its SET LOCALs."""
    sent: list[tuple[str, Sequence]] = []

    def record(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        run()
    plans = []
    settings: list[str] = []
    for sql, params in sent:
        if sql.startswith("SET LOCAL"):
            settings.append(sql)
        elif "FROM library_chunk" in sql:
            with transaction.atomic(), connection.cursor() as cursor:
                for statement in settings:
                    cursor.execute(statement)
                cursor.execute("EXPLAIN " + sql, params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def test_a_small_orgs_search_reads_its_own_rows_not_the_indexes_of_every_org(datasheets_org) -> None:
    # The HNSW and GIN indexes hold every org's chunks: walking them for one org of a hundred
    # pays for the other ninety-nine (bench/scale.py at 1M chunks). An org this small is read
    # from its org_id index, with exact distances.
    assert KNOBS.row_scan_chunks >= Chunk.objects.filter(org=datasheets_org).count()
    plans = _plans_of(lambda: page_search(org=datasheets_org, query="BME280 I2C address 0x76", limit=5))
    assert len(plans) >= 4
    assert not any("chunk_embedding_hnsw" in plan or "chunk_search_vector_gin" in plan for plan in plans)


def test_a_scope_larger_than_the_row_scan_walks_the_hnsw_index(datasheets_org) -> None:
    plans = _plans_of(lambda: _search(datasheets_org, "BME280 I2C address 0x76", limit=10, row_scan_chunks=0))
    assert any("chunk_embedding_hnsw" in plan for plan in plans)


@pytest.mark.parametrize(
    "question",
    [
        "What I2C slave addresses can the BME280 use?",
        "What is the SPI RESET instruction byte of the MCP2515?",
        "Which strapping pins does the ESP32-WROOM-32 have?",
    ],
)
def test_reading_the_scope_row_by_row_finds_what_the_indexes_find(datasheets_org, question: str) -> None:
    # The same term counts and the same full-text candidates in the same order. (Dense
    # candidates may differ where the HNSW walk misses a neighbour: the row scan is exact.)
    sensors = Topic.objects.get(org=datasheets_org, name="Sensors")
    esp32 = Document.objects.get(org=datasheets_org, source_name="espressif-esp32-wroom-32.pdf")
    for topic_ids, document_ids in [(None, None), ([sensors.pk], None), (None, [esp32.pk])]:
        terms_by_rows, terms_by_indexes = (
            query_terms(
                org=datasheets_org,
                query_text=question,
                topic_ids=topic_ids,
                document_ids=document_ids,
                row_scan_chunks=rows,
            )
            for rows in (10**9, 0)
        )
        assert terms_by_rows == terms_by_indexes
        assert terms_by_rows.held is not None
        where, params = search_sql._filters(datasheets_org, topic_ids, document_ids)
        with connection.cursor() as cursor:
            by_rows = search_sql._lexical_ranked(cursor, terms_by_rows, terms_by_rows.held, KNOBS.candidates)
            by_index = search_sql._lexical_candidates(cursor, terms_by_indexes, where, params, KNOBS.candidates)
        assert by_rows
        assert by_rows == by_index


def test_terms_read_over_the_whole_org_do_not_rank_a_topics_search(datasheets_org) -> None:
    # query_terms keeps which terms each chunk of its scope holds; a search of a narrower
    # scope must not rank the chunks of that wider one.
    question = "What is the maximum supply voltage?"
    power = Topic.objects.get(org=datasheets_org, name="Power")
    documents = set(Document.objects.filter(topics=power).values_list("source_name", flat=True))
    hits = chunk_search(
        org=datasheets_org,
        terms=query_terms(org=datasheets_org, query_text=question, row_scan_chunks=10**9),
        query_embedding=[float(x) for x in embed_query(question)],
        topic_ids=[power.pk],
        document_ids=None,
        limit=40,
        candidates=KNOBS.candidates,
        ef_search=KNOBS.ef_search,
        rrf_k=KNOBS.rrf_k,
        kept_lexical=KNOBS.kept_lexical,
        row_scan_chunks=10**9,
    )
    assert hits
    assert {hit.source_name for hit in hits} <= documents


def test_a_question_of_more_terms_than_a_mask_holds_is_counted_alike_both_ways(datasheets_org) -> None:
    # The row scan returns which terms a chunk holds as bigint masks of 62 terms each.
    words = "supply voltage current range address register pin package temperature sleep".split()
    question = " ".join([*words, *(str(n) for n in range(60))])
    by_rows = query_terms(org=datasheets_org, query_text=question, row_scan_chunks=10**9)
    by_indexes = query_terms(org=datasheets_org, query_text=question, row_scan_chunks=0)
    assert len(by_rows.weights) + len(by_rows.absent) > 62
    assert by_rows == by_indexes


def test_the_scope_pass_sends_a_row_for_each_set_of_terms_not_for_each_chunk(datasheets_org) -> None:
    # A common term is held by most of a scope: the pass groups the chunks on the server by
    # which terms they hold, and the counts add up to what the GIN index finds.
    question = "What is the maximum supply voltage of the device?"
    terms = query_terms(org=datasheets_org, query_text=question, row_scan_chunks=10**9)
    assert terms.held is not None
    patterns = terms.held.patterns
    holding = sum(count for count, _ in patterns.values())
    assert len(patterns) < holding / 10
    assert sorted(int(i) for _, ids in patterns.values() for i in ids.split(",")) == _chunks_holding(
        datasheets_org, search_sql._or_query(terms)
    )
    for lex in terms.held.lexemes:
        assert terms.held.chunks_holding(lex) == len(_chunks_holding(datasheets_org, search_sql.search_form(lex)))


def _chunks_holding(org: Organization, tsquery: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM library_chunk WHERE org_id = %s AND search_vector @@ %s::tsquery ORDER BY id",
            [org.pk, tsquery],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize(
    "question",
    [
        "What does WHO_AM_I return, and what is CTRL1_XL for?",
        "What I2C slave addresses can the BME280 use? Is 0x76 the default?",
        "ADXL345 standby current 0.1 \u00b5A at 25 °C, sensitivity of the embedded sensors",
        # Table abbreviations, units written onto numbers, letters and digits written apart.
        "What is the maximum supply voltage in V and the minimum temperature? 4 KB of SRAM, 8 MHz, 5 mA",
        "Which package is TSSOP20 or QFN24, and what does the ESP32 regulation of 3.3 V need?",
        # More terms than one 62-bit mask holds.
        " ".join(
            [*"supply voltage current range address register pin package temperature".split(), *map(str, range(60))]
        ),
    ],
)
def test_blocks_hold_the_terms_sql_finds_as_matched_finds_them_in_their_lexemes(datasheets_org, question: str) -> None:
    # The window feature asks PostgreSQL which terms each block holds (terms_in_lines); it
    # must be what QueryTerms.matched finds among the block's lexemes, on every page.
    terms = query_terms(org=datasheets_org, query_text=question)
    lexemes = list(terms.weights)
    blocks = [
        block
        for document_id, page in Chunk.objects.filter(org=datasheets_org).values_list("document_id", "page").distinct()
        for block in text_blocks(_page_text(datasheets_org, document_id, page))
    ]
    masks = terms_in_blocks(blocks, terms)
    found = [{lex for bit, lex in enumerate(lexemes) if mask >> bit & 1} for mask in masks]
    assert found == [terms.matched(held) for held in text_lexemes(texts=blocks)]
    assert sum(1 for held in found if held) > 100


def _page_text(org: Organization, document_id: int, page: int) -> str:
    read = page_read(org=org, document_id=document_id, page=page)
    assert read is not None
    return read.text


def test_the_window_feature_sends_each_block_once_as_one_text_and_gets_one_row_back(datasheets_org) -> None:
    sent: list[str] = []
    texts_sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        texts_sent.extend(param for param in params if isinstance(param, str) and "\n" in param)
        return execute(sql, params, many, context)

    terms = QueryTerms(weights={"crystal": 2.0, "flash": 2.0, "who_am_i": 1.0})
    texts = [f"Integrated crystal 40 MHz\nIntegrated SPI flash {n} MB\nWHO_AM_I register" for n in range(50)]
    with connection.execute_wrapper(record):
        windows = window_coverage(texts, terms)
    assert windows == [pytest.approx(1.0)] * 50
    assert len(sent) == 1
    assert "unnest" not in sent[0]
    assert len(texts_sent) == 1
    assert texts_sent[0].split("\n").count("Integrated crystal 40 MHz") == 1


def test_a_topics_chunks_are_counted_by_its_pass_over_them_not_read_twice(datasheets_org) -> None:
    # Counting a topic's chunks alone reads each one's row for its org_id: the row scan that
    # follows reads the same rows and counts them as it goes.
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    sensors = Topic.objects.get(org=datasheets_org, name="Sensors")
    with connection.execute_wrapper(record):
        terms = query_terms(
            org=datasheets_org, query_text="supply voltage", topic_ids=[sensors.pk], row_scan_chunks=10**9
        )
    assert terms.scope_chunks == Chunk.objects.filter(org=datasheets_org, document__topics=sensors).count()
    assert not [sql for sql in sent if sql.startswith("SELECT count(*)") and "EXISTS" in sql]
    by_indexes = query_terms(org=datasheets_org, query_text="supply voltage", topic_ids=[sensors.pk])
    assert terms == by_indexes


def test_the_row_scan_finds_the_nearest_chunks_in_its_pass_as_the_dense_query_finds_them(datasheets_org) -> None:
    sensors = Topic.objects.get(org=datasheets_org, name="Sensors")
    esp32 = Document.objects.get(org=datasheets_org, source_name="espressif-esp32-wroom-32.pdf")
    for question in ["What I2C slave addresses can the BME280 use?", "Which strapping pins does it have?"]:
        vector = [float(x) for x in embed_query(question)]
        for topic_ids, document_ids in [(None, None), ([sensors.pk], None), (None, [esp32.pk])]:
            terms = query_terms(
                org=datasheets_org,
                query_text=question,
                topic_ids=topic_ids,
                document_ids=document_ids,
                row_scan_chunks=10**9,
                query_embedding=vector,
                candidates=KNOBS.candidates,
            )
            assert terms.held is not None
            where, params = search_sql._filters(datasheets_org, topic_ids, document_ids)
            with transaction.atomic(), connection.cursor() as cursor:
                dense = search_sql._dense_candidates(
                    cursor, vector, where, params, KNOBS.candidates, KNOBS.ef_search, row_scan=True
                )
            assert len(dense) == min(KNOBS.candidates, terms.scope_chunks or 0)
            assert list(terms.held.nearest) == dense


def test_a_search_read_row_by_row_reads_the_scopes_rows_once(datasheets_org) -> None:
    # The terms each chunk holds and its distance to the question come from one pass.
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        pages = page_search(org=datasheets_org, query="BME280 I2C address 0x76", limit=5).pages
    assert pages
    scans = [sql for sql in sent if "FROM library_chunk c WHERE" in sql and "<=>" in sql]
    assert len(scans) == 1
    assert "string_agg(s.id" in scans[0]
