"""agent/services.py with the extractive backend, on the real datasheets."""

import re

import pytest

from agent.events import AnswerDelta, AnswerDone, ModeChosen, ToolStep, Turn
from agent.extractive import LOOKUP_PAGES, NOTHING_FOUND
from agent.services import answer, answer_stream
from core.errors import InvalidRequest
from library.search import CitedPage
from topics.models import Topic
from voltai_server.management.commands.demo_setup import SAMPLE_QUESTION

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_fast_streams_mode_then_deltas_then_the_cited_answer(datasheets_org) -> None:
    events = list(
        answer_stream(org=datasheets_org, query="What value does the chip ID register of the BME280 read?", mode="FAST")
    )
    assert isinstance(events[0], ModeChosen) and events[0].mode == "FAST"
    assert events[0].topics == ("Sensors",)  # the part named narrows the scope, and says so
    assert isinstance(events[-1], AnswerDone)
    deltas = [e for e in events if isinstance(e, AnswerDelta)]
    assert deltas and "".join(d.text for d in deltas) == events[-1].answer
    done = events[-1]
    assert (done.sources[0].source_name, done.sources[0].page) in {("bosch-bme280.pdf", 27), ("bosch-bme280.pdf", 26)}
    assert "0x60" in done.answer
    assert not re.search(r"\[\d+\]", done.answer)  # no citation markers left
    assert done.sources[0].chunk_ids and done.sources[0].passages
    assert len(done.sources) <= LOOKUP_PAGES  # the best pages that say something, not every page read


def test_an_off_topic_question_gets_nothing_relevant_and_no_sources(datasheets_org) -> None:
    done = answer(org=datasheets_org, query="What is a good recipe for banana bread?", mode="FAST")
    assert done.answer == NOTHING_FOUND
    assert done.sources == ()


def test_topic_names_restrict_the_search_to_those_topics(datasheets_org) -> None:
    power = Topic.objects.get(org=datasheets_org, name="Power")
    done = answer(org=datasheets_org, query="What is the maximum supply voltage?", mode="FAST", topics=[power])
    assert done.topics == ("Power",)
    assert done.sources
    assert {s.source_name for s in done.sources} <= {"infineon-irf540n.pdf", "renesas-icl7660.pdf"}


def test_without_topics_or_named_parts_the_whole_library_is_searched(datasheets_org) -> None:
    done = answer(org=datasheets_org, query="Which USB vendor ID do devices enumerate with by default?", mode="FAST")
    assert done.topics == ()
    assert done.sources[0].source_name == "ftdi-ft232r.pdf"


def test_a_part_named_by_what_it_is_keeps_the_search_to_its_datasheet(datasheets_org) -> None:
    done = answer(
        org=datasheets_org, query="Which USB vendor ID does the USB-to-UART chip enumerate with?", mode="FAST"
    )
    assert done.topics == ("Interface",)  # the FT232R's topic: the search was kept to it
    assert {source.source_name for source in done.sources} == {"ftdi-ft232r.pdf"}


def test_a_follow_up_is_answered_from_the_part_the_thread_is_about(datasheets_org) -> None:
    first = answer(org=datasheets_org, query="What is the supply voltage range of the ADXL345?", mode="FAST")
    history = [
        Turn(role="user", content="What is the supply voltage range of the ADXL345?"),
        Turn(role="assistant", content=first.answer, sources=first.sources),
    ]
    follow_up = answer(org=datasheets_org, query="And its maximum operating temperature?", mode="FAST", history=history)
    assert follow_up.sources
    assert {s.source_name for s in follow_up.sources} == {"adi-adxl345.pdf"}
    alone = answer(org=datasheets_org, query="And its maximum operating temperature?", mode="FAST")
    assert alone.topics == ()  # without the thread, nothing points at the ADXL345


def test_follow_up_uses_the_previous_answers_sources_when_no_part_was_named(datasheets_org) -> None:
    history = [
        Turn(role="user", content="Which chip is the USB to serial bridge?"),
        Turn(
            role="assistant",
            content="The FT232R.",
            sources=(
                CitedPage(source_name="ftdi-ft232r.pdf", page=1, document_id=_doc(datasheets_org, "ftdi-ft232r.pdf")),
            ),
        ),
    ]
    done = answer(org=datasheets_org, query="What VCC range does it need?", mode="FAST", history=history)
    assert {s.source_name for s in done.sources} == {"ftdi-ft232r.pdf"}


def _doc(org, name: str) -> int:
    return org.documents.get(source_name=name).pk


def test_agentic_searches_each_part_of_a_comparison_and_cites_both(datasheets_org) -> None:
    events = list(
        answer_stream(
            org=datasheets_org,
            query="Which supports the faster SPI clock, the MCP2515 or the ADXL345?",
            mode="AGENTIC",
        )
    )
    steps = [e for e in events if isinstance(e, ToolStep)]
    done = events[-1]
    assert isinstance(done, AnswerDone) and done.mode == "AGENTIC"
    searches = [s for s in steps if s.tool == "search_library"]
    assert len(searches) >= 2
    assert list(done.steps) == steps
    assert {s.source_name for s in done.sources} == {"microchip-mcp2515.pdf", "adi-adxl345.pdf"}
    assert "ADXL345:" in done.answer and "MCP2515:" in done.answer  # one answer per part
    # every step comes before the first piece of the answer
    first_delta = next(i for i, e in enumerate(events) if isinstance(e, AnswerDelta))
    assert all(i < first_delta for i, e in enumerate(events) if isinstance(e, ToolStep))


def test_a_comparison_answers_its_parts_in_the_order_the_question_names_them(datasheets_org) -> None:
    done = answer(
        org=datasheets_org, query="Which supports the faster SPI clock, the MCP2515 or the ADXL345?", mode="AGENTIC"
    )
    assert done.answer.index("MCP2515:") < done.answer.index("ADXL345:")
    assert done.sources[0].source_name == "microchip-mcp2515.pdf"


def test_agentic_on_a_multi_part_question_leads_with_the_page_fast_leads_with(datasheets_org) -> None:
    query = "What is the SPI RESET instruction byte of the MCP2515, and which mode is the device in after it?"
    fast = answer(org=datasheets_org, query=query, mode="FAST")
    agentic = answer(org=datasheets_org, query=query, mode="AGENTIC")
    searches = [s for s in agentic.steps if s.tool == "search_library"]
    assert len(searches) == 3  # the whole question, then each clause
    assert agentic.sources[0] == fast.sources[0]


def test_a_later_clause_that_says_it_stays_with_the_part_found_first(datasheets_org) -> None:
    # No part is named; "at which register address is it?" alone would match any datasheet's
    # register map, but "it" is the WHO_AM_I register the first search found.
    done = answer(
        org=datasheets_org,
        query="What fixed value does the WHO_AM_I register return, and at which register address is it?",
        mode="AGENTIC",
    )
    _whole_question, *clauses = [s for s in done.steps if s.tool == "search_library"]
    assert len(clauses) == 2
    assert all(step.result.endswith("from 1 document") for step in clauses)
    # The register's description (p. 47) and the register map's row (p. 38) both state it.
    assert (done.sources[0].source_name, done.sources[0].page) in {("st-lsm6ds33.pdf", 47), ("st-lsm6ds33.pdf", 38)}


def test_a_comparison_leads_with_its_verdict_when_each_part_states_one_value(datasheets_org) -> None:
    query = "Which has the lower supply voltage, the ADXL345 or the LSM6DS33?"
    done = answer(org=datasheets_org, query=query, mode="AGENTIC")
    # The minimum of each part's supply-voltage row: 2.0 V for the ADXL345, 1.71 V for the LSM6DS33.
    assert done.answer.startswith("Lower: the LSM6DS33 (1.71 V, against 2.0 V for the ADXL345). ")
    assert "ADXL345:" in done.answer.split("\n")[0] and "LSM6DS33:" in done.answer.split("\n")[0]


def test_agentic_respects_the_step_limit(datasheets_org, settings) -> None:
    settings.AGENT_MAX_STEPS = 1
    done = answer(
        org=datasheets_org,
        query="Which supports the faster SPI clock, the MCP2515 or the ADXL345?",
        mode="AGENTIC",
    )
    assert len(done.steps) == 1


def test_auto_reports_the_mode_it_chose(datasheets_org) -> None:
    lookup = answer(org=datasheets_org, query="What is the chip ID of the BME280?", mode="AUTO")
    comparison = answer(
        org=datasheets_org, query="Which has the lower supply voltage, the ADXL345 or the LSM6DS33?", mode="AUTO"
    )
    assert lookup.mode == "FAST"
    assert comparison.mode == "AGENTIC"


def test_an_empty_question_is_rejected(datasheets_org) -> None:
    with pytest.raises(InvalidRequest):
        answer(org=datasheets_org, query="   ", mode="FAST")


@pytest.mark.slow
def test_a_part_no_datasheet_covers_is_answered_as_not_in_the_library(datasheets_org) -> None:
    done = answer(org=datasheets_org, query="What is the I2C address of the MPU-6050?", mode="AUTO")
    assert done.answer.startswith("The library has no datasheet for MPU-6050")
    assert done.sources == ()
    assert "The closest datasheets it has:" in done.answer  # other I2C sensors that it does hold


@pytest.mark.slow
def test_a_sibling_part_named_inside_a_datasheet_is_not_unknown(datasheets_org) -> None:
    done = answer(org=datasheets_org, query="What is the resolution of the ADS1113?", mode="FAST")
    assert "no datasheet" not in done.answer
    assert done.sources and done.sources[0].source_name == "ti-ads1115.pdf"


@pytest.mark.slow
def test_a_part_number_with_an_english_word_hyphenated_on_is_still_that_part(datasheets_org) -> None:
    done = answer(org=datasheets_org, query="What is the supply voltage range of an ADS1115-based logger?", mode="FAST")
    assert "no datasheet" not in done.answer
    assert done.sources and done.sources[0].source_name == "ti-ads1115.pdf"


@pytest.mark.slow
def test_the_sample_question_make_run_prints_is_answered_from_the_interface_section(datasheets_org) -> None:
    # p. 32's sentence runs onto p. 33 ("… which is the same as" / "BMP280's I2C address."); p. 55
    # holds the driver's notes on the same address.
    done = answer(org=datasheets_org, query=SAMPLE_QUESTION, mode="AUTO")
    first = done.answer.split("\n")[0]
    assert (done.sources[0].source_name, done.sources[0].page) == ("bosch-bme280.pdf", 32)
    assert "0x76" in first and "0x77" in first
