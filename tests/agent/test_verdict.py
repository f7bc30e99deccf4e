"""A comparison's verdict: given only when the direction, the property and one value per part are plain."""

from agent.verdict import comparison_verdict

QUESTION = "Which supports the faster SPI clock, the MCP2515 or the ADXL345?"


def _parts(first: str, second: str, asked: str = "Which supports the SPI clock?") -> list[tuple[str, str, str]]:
    return [("MCP2515", asked, first), ("ADXL345", asked, second)]


def test_the_part_stating_the_higher_value_wins_a_faster_question() -> None:
    parts = _parts("SPI clock frequency · fSCK · Max: 10 MHz [1]", "fSCLK · SPI clock frequency · Max: 5 MHz [2]")
    assert comparison_verdict(QUESTION, parts) == "Faster: the MCP2515 (10 MHz, against 5 MHz for the ADXL345)."


def test_values_are_compared_in_base_units_and_the_lower_one_wins_a_less_question() -> None:
    question = "Which draws less current in power-down, the radio or the flash?"
    asked = "Which draws current in power-down?"
    parts = [
        ("radio", asked, "Supply current in power-down · Typ.: 900 nA"),
        ("flash", asked, "Power-down current · ICC2 · Typ: 1.5 μA"),
    ]
    assert comparison_verdict(question, parts) == "Less: the radio (900 nA, against 1.5 μA for the flash)."


def test_the_direction_reads_the_minimum_of_a_range_for_lower_and_the_maximum_for_higher() -> None:
    first = "Supply voltage · Min: 2.0 V · Typ: 2.5 V · Max: 3.6 V; Interface voltage · Min: 1.7 V"
    second = "Supply voltage · Min.: 1.71 V · Typ.(1): 1.8 V · Max.: 4.8 V"
    asked = "Which runs from the supply voltage?"
    lower = comparison_verdict("Which runs from the lower supply voltage, A or B?", _parts(first, second, asked))
    assert lower == "Lower: the ADXL345 (1.71 V, against 2.0 V for the MCP2515)."
    higher = comparison_verdict("Which runs from the higher supply voltage, A or B?", _parts(first, second, asked))
    assert higher == "Higher: the ADXL345 (4.8 V, against 3.6 V for the MCP2515)."


def test_no_verdict_when_a_line_is_not_on_the_property_compared() -> None:
    parts = _parts("The maximum frequency on CLKOUT is 25 MHz.", "fSCLK · SPI clock frequency · Max: 5 MHz")
    assert comparison_verdict(QUESTION, parts) == ""


def test_no_verdict_when_a_line_states_several_values_of_the_kind() -> None:
    parts = _parts("SPI clock: 10 MHz, or 8 MHz in Sleep", "fSCLK · SPI clock frequency · Max: 5 MHz")
    assert comparison_verdict(QUESTION, parts) == ""


def test_no_verdict_without_a_plain_direction_or_on_a_tie() -> None:
    parts = _parts("SPI clock · Max: 10 MHz", "SPI clock · Max: 5 MHz")
    assert comparison_verdict("Which SPI clock is better, the MCP2515 or the ADXL345?", parts) == ""
    tie = _parts("SPI clock · Max: 10 MHz", "SPI clock · Max: 10000 kHz")
    assert comparison_verdict(QUESTION, tie) == ""
