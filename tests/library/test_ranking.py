"""library/search/ranking.py: the order of a document's pages among the places they hold."""

from library.search import CitedPage, PageFeatures, QueryTerms
from library.search.ranking import within_documents


def _page(document_id: int, page: int, score: float, matched: set[str], weights: dict[str, float]) -> CitedPage:
    coverage = sum(weights[lex] for lex in matched) / sum(weights.values())
    features = PageFeatures(
        dense=0.5, coverage=coverage, coverage_all=coverage, fused=1.0, contents=0.0, matched=frozenset(matched)
    )
    name = f"{document_id}.pdf"
    return CitedPage(document_id=document_id, source_name=name, page=page, score=score, features=features)


def test_a_documents_pages_are_ordered_on_what_is_asked_of_it_not_on_its_name() -> None:
    weights = {"li-ion": 6.0, "charger": 6.0, "regulate": 3.0, "voltage": 1.0}
    terms = QueryTerms(weights=weights)
    title_page = _page(1, 1, 1.44, {"li-ion", "charger", "voltage"}, weights)
    other_document = _page(2, 7, 1.30, {"voltage"}, weights)
    table_page = _page(1, 3, 1.07, {"regulate", "voltage"}, weights)

    ranked = within_documents([title_page, other_document, table_page], terms, {1: frozenset({"li-ion", "charger"})})

    assert [(p.document_id, p.page) for p in ranked] == [(1, 3), (2, 7), (1, 1)]
    # Each place keeps its score, so the answer's page weights follow the new order.
    assert [p.score for p in ranked] == [1.44, 1.30, 1.07]
    # Without the names, nothing moves.
    pages = [title_page, other_document, table_page]
    assert within_documents(pages, terms, {}) == pages
