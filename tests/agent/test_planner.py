"""The extractive AGENTIC planner's split of a question into parts."""

import pytest

from agent.planner import plan
from agent.scope import searched_question
from library.models import Document
from library.selectors import documents_named_in

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_each_part_of_a_comparison_is_asked_of_its_own_part_without_the_other_or_the_direction(
    datasheets_org,
) -> None:
    question = "Which tolerates the higher supply voltage: the ESP32-WROOM-32 or the LSM6DS33?"
    parts = plan(question, documents_named_in(org=datasheets_org, text=question))

    assert [p.label for p in parts] == ["ESP32-WROOM-32", "LSM6DS33"]  # as the question writes them
    assert [p.documents[0].source_name for p in parts] == ["espressif-esp32-wroom-32.pdf", "st-lsm6ds33.pdf"]
    esp32, lsm = (p.question for p in parts)
    assert "ESP32-WROOM-32" in esp32 and "LSM6DS33" not in esp32
    assert "LSM6DS33" in lsm and "ESP32" not in lsm and "WROOM" not in lsm
    assert "higher" not in esp32 and "supply voltage" in esp32


def test_a_multi_part_question_about_one_part_is_split_into_its_clauses(datasheets_org) -> None:
    question = "What is the SPI RESET instruction byte of the MCP2515, and which mode is the device in after it?"
    parts = plan(question, documents_named_in(org=datasheets_org, text=question))
    assert [p.question for p in parts] == [
        "What is the SPI RESET instruction byte of the MCP2515?",
        "Which mode is the device in after it?",  # each reads as a question of its own
    ]
    assert all(p.documents[0].source_name == "microchip-mcp2515.pdf" for p in parts)


def test_a_described_parts_search_reads_the_question_without_its_description() -> None:
    radio = Document(pk=7, source_name="radio.pdf")
    question = "Straight out of reset, which RF frequency is the 2.4 GHz radio tuned to?"
    assert searched_question(question, [radio], {7: "2.4 GHz radio"}) == (
        "Straight out of reset, which RF frequency is tuned to?"
    )
    # A part number stays: a sibling's datasheet may be what names it.
    assert searched_question("What is the resolution of the ADS1113?", [radio], {7: "ADS1113"}) == (
        "What is the resolution of the ADS1113?"
    )
    # Two documents: a comparison asks each part on its own (`plan`).
    assert searched_question(question, [radio, Document(pk=8)], {7: "2.4 GHz radio"}) == question
