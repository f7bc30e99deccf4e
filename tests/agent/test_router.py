"""AUTO mode's classifier (agent/router.py): no LLM call, FAST for look-ups only."""

import pytest

from agent.router import route


@pytest.mark.parametrize(
    "query",
    [
        "What is the BME280's chip ID?",
        "Which pin is the ADDR pin of the ADS1115?",
        "What is the maximum SPI clock of the MCP2515?",
    ],
)
def test_simple_lookups_go_to_fast(query: str) -> None:
    assert route(query=query, named_documents=1) == "FAST"


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("Which has the lower supply voltage, the ADXL345 or the LSM6DS33?", 2),  # several documents
        ("Compare the standby current of these two sensors.", 0),  # a comparison
        ("Which is faster, SPI or I2C on this part?", 1),  # a comparison
        ("What is the default data rate, and what current does it draw at that rate?", 1),  # multi-part
        ("If I write FS_XL = 11, what full scale do I get?", 1),  # a calculation
        ("Why does the MCP2515 need an oscillator start-up timer?", 1),  # why
        ("How do I put the MCP2515 into Loopback mode?", 1),  # how
    ],
)
def test_comparisons_multi_part_calculations_and_why_how_go_to_agentic(query: str, named: int) -> None:
    assert route(query=query, named_documents=named) == "AGENTIC"
