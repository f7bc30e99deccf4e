"""agent/citations.py: markers → clean text + cited sources."""

from agent.citations import StreamCleaner, cited_sources, clean_answer
from library.search import CitedPage


def _evidence() -> list[CitedPage]:
    return [
        CitedPage(document_id=1, source_name="a.pdf", page=3, chunk_ids=[10], passages=["alpha"]),
        CitedPage(document_id=2, source_name="b.pdf", page=7, chunk_ids=[20], passages=["beta"]),
        CitedPage(document_id=1, source_name="a.pdf", page=3, chunk_ids=[11], passages=["alpha 2"]),
        CitedPage(document_id=1, source_name="a.pdf", page=4, chunk_ids=[12], passages=["gamma"]),
    ]


def test_clean_answer_has_no_markers_or_citation_tags() -> None:
    raw = "The address is 0x76 [2]. It can be 0x77 [1, 3]<cite>x</cite> [4][1]."
    assert clean_answer(raw) == "The address is 0x76. It can be 0x77x."


def test_sources_are_in_order_of_first_citation_and_deduplicated_by_page() -> None:
    sources = cited_sources("B [2]. A [1]. A again [3]. B again [2].", _evidence())
    assert [(s.source_name, s.page) for s in sources] == [("b.pdf", 7), ("a.pdf", 3)]
    assert sources[1].chunk_ids == [10, 11]
    assert sources[1].passages == ["alpha", "alpha 2"]
    assert sources[1].document_id == 1


def test_only_cited_evidence_becomes_a_source() -> None:
    sources = cited_sources("Only this [4].", _evidence())
    assert [(s.source_name, s.page) for s in sources] == [("a.pdf", 4)]


def test_a_marker_pointing_at_no_evidence_item_is_dropped() -> None:
    raw = "Fact [1]. Invented [5]. Zero [0]."
    assert [(s.source_name, s.page) for s in cited_sources(raw, _evidence()[:4])] == [("a.pdf", 3)]
    assert clean_answer(raw) == "Fact. Invented. Zero."


def test_marker_ranges_cite_every_item_in_the_range() -> None:
    sources = cited_sources("All of it [1-2].", _evidence())
    assert [(s.source_name, s.page) for s in sources] == [("a.pdf", 3), ("b.pdf", 7)]


def test_streamed_pieces_concatenate_to_the_clean_answer_even_when_a_marker_is_split() -> None:
    raw = "The slave address is 0x76 [1] with SDO low; 0x77 [2, 3] with SDO high [1]."
    for size in (1, 2, 3, 5, 8):
        cleaner = StreamCleaner()
        pieces = [cleaner.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
        pieces.append(cleaner.finish())
        assert "".join(pieces) == clean_answer(raw), size
        assert all("[" not in piece for piece in pieces)
