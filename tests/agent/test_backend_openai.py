"""The `openai` backend through the real `openai` client against a local compatible server."""

import time

import pytest

from agent.events import AnswerDelta, AnswerDone, ModeChosen, ToolStep
from agent.services import answer, answer_stream
from core.errors import LlmTimeout, LlmUnavailable
from tests.fake_llm import FakeLlm, Reply

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def llm(settings):
    with FakeLlm(Reply(status=500)) as fake:  # a request no test queued a reply for fails
        settings.LLM_BACKEND = "openai"
        settings.LLM_BASE_URL = fake.base_url
        settings.LLM_API_KEY = "test-key"
        settings.LLM_MODEL = "test-model"
        settings.LLM_TIMEOUT_S = 1.0
        settings.LLM_MAX_RETRIES = 0
        yield fake


def test_fast_streams_the_models_tokens_as_clean_deltas_and_cites_the_evidence(datasheets_org, llm) -> None:
    llm.reply(Reply("The BME280 answers at 0x76 or 0x77 [1], selected by SDO [1][9].", slices=12))
    events = list(answer_stream(org=datasheets_org, query="What I2C addresses can the BME280 use?", mode="FAST"))
    assert isinstance(events[0], ModeChosen)
    deltas = [e.text for e in events if isinstance(e, AnswerDelta)]
    done = events[-1]
    assert isinstance(done, AnswerDone)
    assert len(deltas) > 3  # streamed, not one block
    assert "".join(deltas) == done.answer == "The BME280 answers at 0x76 or 0x77, selected by SDO."
    assert len(done.sources) == 1  # [9] points at no evidence item and is dropped
    assert done.sources[0].source_name == "bosch-bme280.pdf"
    request = llm.requests[0]
    assert request["model"] == "test-model" and request["stream"] is True
    prompt = request["messages"][-1]["content"]
    assert "[1] bosch-bme280.pdf, page" in prompt and "0x76" in prompt


def test_agentic_runs_a_tool_call_round_trip(datasheets_org, llm) -> None:
    llm.reply(
        Reply(tool_call=("search_library", {"query": "MCP2515 RESET instruction byte"})),
        Reply("The RESET instruction is 1100 0000 [1].", slices=4),
    )
    events = list(answer_stream(org=datasheets_org, query="What is the MCP2515 reset instruction?", mode="AGENTIC"))
    steps = [e for e in events if isinstance(e, ToolStep)]
    done = events[-1]
    assert isinstance(done, AnswerDone)
    assert [s.tool for s in steps] == ["search_library"]
    assert steps[0].input == {"query": "MCP2515 RESET instruction byte"}
    assert "pages from" in steps[0].result
    assert done.answer == "The RESET instruction is 1100 0000."
    assert done.sources[0].source_name == "microchip-mcp2515.pdf"
    second = llm.requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "search_library"
    assert second[-1]["role"] == "tool" and "microchip-mcp2515.pdf" in second[-1]["content"]
    assert llm.requests[0]["tools"][0]["function"]["name"] == "search_library"


def test_a_slow_endpoint_raises_llm_timeout(datasheets_org, llm) -> None:
    llm.reply(Reply("too late", delay_s=12))
    started = time.monotonic()
    with pytest.raises(LlmTimeout) as raised:
        answer(org=datasheets_org, query="What I2C addresses can the BME280 use?", mode="FAST")
    assert time.monotonic() - started < 10  # LLM_TIMEOUT_S is 1 s; the endpoint would take 12
    assert raised.value.http_status == 504


def test_a_500_from_the_endpoint_raises_llm_unavailable(datasheets_org, llm) -> None:
    llm.reply(Reply(status=500))
    with pytest.raises(LlmUnavailable) as raised:
        answer(org=datasheets_org, query="What I2C addresses can the BME280 use?", mode="FAST")
    assert raised.value.http_status == 502


def test_retries_are_bounded_and_a_retry_can_succeed(datasheets_org, llm, settings) -> None:
    settings.LLM_MAX_RETRIES = 1
    llm.reply(Reply(status=500), Reply("0x76 [1].", slices=4))
    done = answer(org=datasheets_org, query="What I2C addresses can the BME280 use?", mode="FAST")
    assert done.answer == "0x76."
    assert len(llm.requests) == 2
