"""The extractive composer's choice of lines: runner-up pages and the rest of the question."""

import pytest

from agent.citations import Evidence
from agent.extractive import compose
from library.selectors import QueryTerms

pytestmark = pytest.mark.django_db


def _page(page: int, text: str) -> Evidence:
    return Evidence(document_id=1, source_name="part.pdf", page=page, text=text)


def test_a_runner_up_page_with_a_line_on_the_question_is_cited_after_the_top_page() -> None:
    terms = QueryTerms(weights={"sleep": 1.0, "current": 1.0, "wakeup": 1.0, "latency": 1.0})
    evidence = [
        _page(8, "Sleep current is 0.1 uA typical for the device."),
        _page(12, "The sleep current is measured with all blocks off."),
        _page(30, "Package outline and soldering profile."),
    ]
    weights = [1.0, 0.0, 0.0]

    narrow = compose(terms=terms, evidence=evidence, page_weights=weights, max_units=4)
    spread = compose(terms=terms, evidence=evidence, page_weights=weights, max_units=4, spread_pages=4)

    assert "[2]" not in narrow
    lines = spread.split("\n")
    assert lines[0].endswith("[1]")  # the top page's citation stays first
    assert any(line.endswith("[2]") for line in lines)
    assert "[3]" not in spread  # a page with nothing on the question is not cited


def test_a_table_row_for_the_other_part_of_the_question_is_quoted_with_its_value() -> None:
    terms = QueryTerms(
        weights={"wakeup": 3.0, "latency": 3.0, "first": 2.0, "communication": 2.0, "sleep": 1.0, "current": 1.0}
    )
    text = "\n".join(
        [
            "Sleep current IDDSL",
            "0.1 0.3 µA",
            "Package dimensions are given in the mechanical section of this document",
            "Wakeup latency to first communication 2 ms",
        ]
    )
    evidence = [_page(8, text)]

    plain = compose(terms=terms, evidence=evidence, page_weights=[1.0], max_units=4)
    with_values = compose(terms=terms, evidence=evidence, page_weights=[1.0], max_units=4, value_lines=2)

    assert "2 ms" in plain and "0.1 0.3" not in plain
    assert "Sleep current IDDSL 0.1 0.3 µA" in with_values
    assert with_values.index("Sleep current") < with_values.index("Wakeup latency")  # page order kept
