"""The `scripted` backend replays tool calls and answers through the real tools."""

from typing import Any

import pytest

from agent.backends import scripted_responses
from agent.events import AnswerDone, ToolStep
from agent.services import answer, answer_stream
from core.errors import LlmTimeout, LlmUnavailable

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def scripted(settings) -> None:
    settings.LLM_BACKEND = "scripted"


def test_agentic_replays_tools_and_cites_only_existing_evidence(datasheets_org) -> None:
    script: list[dict[str, Any]] = [
        {"tool": "list_topics", "input": {}},
        {"tool": "list_documents", "input": {"topic": "power"}},
        {"tool": "read_page", "input": {"source_name": "infineon-irf540n.pdf", "page": 1}},
        {"tool": "search_library", "input": {"query": "ICL7660 supply voltage", "topic_names": ["Power"]}},
        {"answer": "IRF540N: 33 A [1]. ICL7660: 10.5 V [2]. Peers cite this too [6][99]."},
    ]
    with scripted_responses(script):
        events = list(answer_stream(org=datasheets_org, query="Compare the power parts.", mode="AGENTIC"))
    steps = [e for e in events if isinstance(e, ToolStep)]
    done = events[-1]
    assert isinstance(done, AnswerDone)
    assert [s.tool for s in steps] == ["list_topics", "list_documents", "read_page", "search_library"]
    assert steps[0].result == "5 topics"
    assert steps[1].result == "2 documents"
    assert done.answer == "IRF540N: 33 A. ICL7660: 10.5 V. Peers cite this too."
    assert done.sources[0].source_name == "infineon-irf540n.pdf" and done.sources[0].page == 1
    assert done.sources[1].source_name == "renesas-icl7660.pdf"
    assert len(done.sources) == 2  # five evidence items: [6] and [99] point at nothing


def test_an_unknown_topic_in_a_tool_call_is_reported_to_the_model_not_raised(datasheets_org) -> None:
    script: list[dict[str, Any]] = [
        {"tool": "search_library", "input": {"query": "x", "topic_names": ["Nope"]}},
        {"answer": "Nothing."},
    ]
    with scripted_responses(script):
        done = answer(org=datasheets_org, query="Anything?", mode="AGENTIC")
    assert done.steps[0].result == "unknown topic"
    assert done.sources == ()


def test_scripted_failures_map_to_llm_errors(datasheets_org) -> None:
    with scripted_responses([{"error": "timeout"}]), pytest.raises(LlmTimeout):
        answer(org=datasheets_org, query="BME280 chip ID?", mode="FAST")
    with scripted_responses([{"error": "unavailable"}]), pytest.raises(LlmUnavailable):
        answer(org=datasheets_org, query="BME280 chip ID?", mode="FAST")
