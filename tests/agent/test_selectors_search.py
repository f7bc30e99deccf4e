"""library/selectors.py: the hybrid search, its filters and its page ranking, on the real datasheets."""

import pytest

from library.embeddings import embed_query
from library.models import Document
from library.selectors import chunk_search, documents_named_in, page_search
from topics.models import Topic

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _search(org, text: str, **filters):  # type: ignore[no-untyped-def]
    return chunk_search(org=org, query_text=text, query_embedding=embed_query(text), **filters)


def test_an_exact_symbol_pulls_the_chunks_that_contain_it(datasheets_org) -> None:  # type: ignore[no-untyped-def]
    hits = _search(datasheets_org, "0x76 VDDIO SDO", limit=10)
    assert hits[0].source_name == "bosch-bme280.pdf"
    # full-text search ranks the chunk holding the rare symbol first; fusion keeps it in
    best_lexical = max(hits, key=lambda hit: hit.lexical_score or 0)
    assert "0x76" in best_lexical.text


def test_a_small_topic_still_fills_the_result_thanks_to_iterative_index_scans(datasheets_org) -> None:  # type: ignore[no-untyped-def]
    wireless = Topic.objects.get(org=datasheets_org, name="Wireless")
    hits = _search(datasheets_org, "I2C slave address of the accelerometer", topic_ids=[wireless.pk], limit=15)
    assert len(hits) == 15
    assert {hit.source_name for hit in hits} == {"espressif-esp32-wroom-32.pdf"}


def test_another_orgs_chunks_are_never_found(datasheets_org, other_org) -> None:  # type: ignore[no-untyped-def]
    assert _search(other_org, "BME280 I2C address 0x76", limit=10) == []
    assert Document.objects.filter(org=other_org).count() == 0


def test_document_filter_keeps_to_the_named_documents(datasheets_org) -> None:  # type: ignore[no-untyped-def]
    named = documents_named_in(org=datasheets_org, text="Is the ICL7660A or the IRF540N rated higher?")
    assert sorted(d.source_name for d in named) == ["infineon-irf540n.pdf", "renesas-icl7660.pdf"]
    hits = _search(datasheets_org, "maximum supply voltage", document_ids=[d.pk for d in named], limit=10)
    assert {hit.source_name for hit in hits} <= {"infineon-irf540n.pdf", "renesas-icl7660.pdf"}


def test_page_search_ranks_the_page_that_answers_first(datasheets_org) -> None:  # type: ignore[no-untyped-def]
    question = "What is the SPI RESET instruction byte of the MCP2515?"
    pages = page_search(org=datasheets_org, query_text=question, query_embedding=embed_query(question), limit=5)
    assert [(p.source_name, p.page) for p in pages][:3].count(("microchip-mcp2515.pdf", 64)) == 1
    assert all(p.text for p in pages)
