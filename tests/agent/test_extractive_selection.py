"""The extractive composer's choice of lines: runner-up pages and the rest of the question."""

import pytest

from agent.extractive import asked_kinds, render, select_lookup, select_units
from library.search import CitedPage, QueryTerms

pytestmark = pytest.mark.django_db


def compose(*, evidence: list[CitedPage], **choice) -> str:
    """The answer text the chosen lines make, as the backends render it."""
    return render(selection=select_units(evidence=evidence, **choice), evidence=evidence)


def _page(page: int, text: str) -> CitedPage:
    return CitedPage(document_id=1, source_name="part.pdf", page=page, text=text)


def test_a_runner_up_page_stating_a_value_is_cited_after_a_top_page_that_states_none() -> None:
    terms = QueryTerms(weights={"sleep": 1.0, "current": 1.0, "wakeup": 1.0, "latency": 1.0})
    evidence = [
        _page(8, "Sleep current is measured with all blocks off."),
        _page(12, "The sleep current is 0.1 uA typical for the device."),
        _page(30, "Package outline and soldering profile."),
    ]
    weights = [1.0, 0.0, 0.0]

    narrow = compose(terms=terms, evidence=evidence, page_weights=weights, max_units=4)
    spread = compose(terms=terms, evidence=evidence, page_weights=weights, max_units=4, spread_pages=4)

    assert "[2]" not in narrow
    lines = spread.split("\n")
    assert lines[0].endswith("[1]")  # the top page's citation stays first
    assert any(line.endswith("[2]") and "0.1 uA" in line for line in lines)
    assert "[3]" not in spread  # a page with nothing on the question is not cited


def test_no_runner_up_page_is_cited_when_the_top_page_states_a_value() -> None:
    terms = QueryTerms(weights={"sleep": 1.0, "current": 1.0, "wakeup": 1.0, "latency": 1.0})
    evidence = [
        _page(8, "Sleep current is 0.1 uA typical for the device."),
        _page(12, "The sleep current is 0.3 uA at most over temperature."),
    ]
    spread = compose(terms=terms, evidence=evidence, page_weights=[1.0, 0.0], max_units=4, spread_pages=4)
    assert "0.1 uA" in spread and "[2]" not in spread


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
    # The best line leads the answer; the value line for the rest of the question follows.
    assert with_values.index("Wakeup latency") < with_values.index("Sleep current")


def test_a_sentence_out_of_a_long_paragraph_is_shown_after_the_sentence_that_names_its_subject() -> None:
    terms = QueryTerms(weights={"thresh_tap": 2.0, "scale": 1.0, "factor": 1.0})
    paragraph = (
        "The THRESH_TAP register is eight bits and holds the threshold value for tap interrupts. "
        "The data format is unsigned, so the magnitude of the tap event is compared with the value in it "
        "for normal tap detection, and the comparison is made on every axis that is enabled for it. "
        "The scale factor is 62.5 mg/LSB (that is, 0xFF = +16 g). "
        "A value of 0 may result in undesirable behavior if single tap or double tap interrupts are enabled."
    )
    text = compose(terms=terms, evidence=[_page(15, paragraph)], page_weights=[1.0], max_units=1)
    assert text.startswith("The THRESH_TAP register is eight bits")
    assert "… The scale factor is 62.5 mg/LSB" in text
    assert "undesirable" not in text
    # A first sentence naming nothing the question asks about, and stating no value, is left out.
    terms = QueryTerms(weights={"scale": 1.0, "factor": 1.0})
    text = compose(terms=terms, evidence=[_page(15, paragraph)], page_weights=[1.0], max_units=1)
    assert text.startswith("The scale factor is 62.5 mg/LSB")


def test_a_sentence_holds_the_subject_its_paragraph_names_first() -> None:
    # "THRESH_TAP" is only in the paragraph's first sentence (a heading here); the sentence with
    # the scale factor speaks of it, and is chosen over a sentence that names it but states nothing.
    terms = QueryTerms(weights={"thresh_tap": 3.0, "scale": 1.0, "factor": 1.0})
    paragraph = (
        "Register 0x1D—THRESH_TAP (Read/Write). "
        "The data format is unsigned, so the magnitude of the tap event is compared with the value in it "
        "for normal tap detection, on every axis that is enabled for it. "
        "The scale factor is 62.5 mg/LSB (that is, 0xFF = +16 g)."
    )
    other = "Set the THRESH_TAP register and the DUR register before you enable the tap interrupts in INT_ENABLE."
    evidence = [_page(15, f"{other}\n{paragraph}")]
    text = compose(terms=terms, evidence=evidence, page_weights=[1.0], max_units=1)
    assert text.startswith("Register 0x1D—THRESH_TAP (Read/Write). … The scale factor is 62.5 mg/LSB")


@pytest.mark.parametrize(
    "announcing",
    [
        "The following reconditioning procedure is mandatory:",
        # No colon: the sentence speaks of "the following" procedure, whose steps come next.
        "Therefore the following reconditioning procedure is mandatory to restore the calibration state.",
    ],
)
def test_a_line_announcing_what_follows_is_shown_with_it(announcing: str) -> None:
    terms = QueryTerms(weights={"reconditioning": 3.0, "procedure": 1.0})
    text = "\n".join(
        [
            f"After reflow, the sensor may show an offset. {announcing}",
            "Dry-baking at 120 °C and relative humidity below 5% for 2 hours",
            "Re-hydration at 25 °C and 75% relative humidity for at least 12 hours",
            "Packaging information follows in the next chapter of this document",
        ]
    )
    answer = compose(terms=terms, evidence=[_page(46, text)], page_weights=[1.0], max_units=1)
    assert "120 °C" in answer and "75%" in answer


def test_a_paragraph_is_shown_under_the_numbered_heading_that_names_its_subject() -> None:
    terms = QueryTerms(weights={"soft": 2.0, "reset": 2.0, "register": 1.0, "value": 1.0})
    page = _page(
        27,
        "5.4.1 Register 0xD0 “id”\nThe “id” register contains the chip identification number chip_id[7:0].\n"
        "5.4.2 Register 0xE0 “reset”\nThe “reset” register contains the soft reset word reset[7:0]. If the value "
        "0xB6 is written to the register, the device is reset using the complete power-on-reset procedure.",
    )
    answer = compose(terms=terms, evidence=[page], page_weights=[1.0], max_units=1)
    assert answer.startswith("5.4.2 Register 0xE0 “reset” · The “reset” register contains the soft reset word")
    # An unnumbered line above is no such heading.
    plain = _page(3, "Reset\nThe soft reset register value 0xB6 resets the device.")
    assert compose(terms=terms, evidence=[plain], page_weights=[1.0], max_units=1).startswith("The soft reset")


def test_a_line_announcing_a_formula_is_shown_with_the_formula() -> None:
    terms = QueryTerms(weights={"off": 2.0, "time": 2.0, "rosc": 3.0, "resistor": 2.0})
    # The announcing line is a bullet the layout keeps beside the page's running title, as a row.
    page = _page(
        9,
        "Stepper Driver · ▪ ROSC through a resistor to ground — off-time is determined by the following formula, "
        "the decay mode is automatic Mixed decay for all step modes except full step, which is set to slow decay."
        "\ntOFF ≈ ROSC ⁄ 825\nWhere tOFF is in μs. Blanking.",
    )
    answer = compose(terms=terms, evidence=[page], page_weights=[1.0], max_units=1)
    assert answer.startswith("Stepper Driver · ▪ ROSC through a resistor to ground — off-time is determined")
    assert "tOFF ≈ ROSC ⁄ 825" in answer.split("\n")[0]


def test_a_line_cut_by_the_layout_mid_sentence_is_finished_from_the_next_line() -> None:
    terms = QueryTerms(weights={"warning": 2.0, "flag": 1.0, "error": 1.0})
    text = "\n".join(
        [
            "Additionally, there is an error state warning flag bit",
            "(EFLG:EWARN) which is set if at least one of the error",
            "counters equals or exceeds the error warning limit of",
            "96. EWARN is reset if both error counters are less than",
        ]
    )
    answer = compose(terms=terms, evidence=[_page(45, text)], page_weights=[1.0], max_units=1)
    assert "warning limit of 96." in answer


def test_a_revision_history_below_the_top_page_is_not_quoted() -> None:
    terms = QueryTerms(weights={"strapping": 3.0, "pins": 1.0})
    evidence = [
        _page(10, "Strapping pins: MTDI, GPIO0, GPIO2, MTDO and GPIO5 are sampled at reset."),
        _page(26, "Revision History\n• Added strapping pin timing in Section 2.3 Strapping Pins"),
    ]
    answer = compose(terms=terms, evidence=evidence, page_weights=[1.0, 0.9], max_units=4, spread_pages=4)
    assert "[1]" in answer and "[2]" not in answer


def test_a_value_line_that_says_it_in_other_words_is_chosen_when_meaning_is_measured() -> None:
    # "works at 105 °C ambient" shares no word with "operating temperature range"; only a
    # measure of meaning (in AGENTIC, the embedding model's similarity) can tell they match.
    terms = QueryTerms(weights={"works": 2.0, "ambient": 2.0, "105": 3.0, "need": 1.0})
    text = "\n".join(
        [
            "Wide operating temperature range: -40 °C to +125 °C",
            "Ambient light is not measured by this device",
        ]
    )
    evidence = [_page(1, text)]

    def meaning(lines: list[str]) -> list[float]:
        return [0.8 if "temperature" in line else 0.1 for line in lines]

    lexical = compose(terms=terms, evidence=evidence, page_weights=[1.0], max_units=1)
    measured = select_units(terms=terms, evidence=evidence, page_weights=[1.0], max_units=1, meaning=meaning)

    assert "temperature" not in lexical
    assert [unit.text for unit in measured.units] == ["Wide operating temperature range: -40 °C to +125 °C"]


def _rows(caption: str, rows: list[str]) -> str:
    return "\n".join(f"{caption} · {row}" for row in rows)


def test_rows_of_one_table_answering_two_parts_make_the_first_line_with_their_shared_cells_once() -> None:
    terms = QueryTerms(weights={"load": 2.0, "supply": 1.0, "voltage": 1.0, "output": 1.0, "current": 1.0})
    text = "\n".join(
        [
            "The outputs are protected against shorts to ground by a current limit.",
            _rows(
                "Absolute Maximum Ratings",
                [
                    "Characteristic: Load Supply Voltage · Symbol: VBB · Rating: 35 V",
                    "Characteristic: Output Current · Symbol: IOUT · Rating: ±2 A",
                    "Characteristic: Logic Supply Voltage · Symbol: VDD · Rating: 7 V",
                    "Characteristic: Storage Temperature · Symbol: Tstg · Rating: –55 to 150 °C",
                    "Characteristic: Junction Temperature · Symbol: TJ · Rating: 150 °C",
                ],
            ),
        ]
    )
    evidence = [_page(2, text)]

    answer = compose(terms=terms, evidence=evidence, page_weights=[1.0], max_units=1)

    first = answer.split("\n")[0]
    # The caption once, the descriptive columns without their header names, rows apart by ";".
    assert first.count("Absolute Maximum Ratings") == 1
    assert "Load Supply Voltage · VBB · Rating: 35 V" in first
    assert "Output Current · IOUT · Rating: ±2 A" in first
    assert "Storage Temperature" not in answer  # a row on nothing the question asks stays out
    # A row is never padded with the rows after it.
    assert "Characteristic:" not in first


def test_the_part_name_does_not_choose_the_line() -> None:
    # "charger" and "li-ion" name the document (its title holds them): the line to quote is
    # the one on what is asked of it.
    terms = QueryTerms(weights={"li-ion": 12.0, "charger": 12.0, "regulate": 3.0, "voltage": 1.0, "battery": 2.0})
    title_line = "Single-Cell Linear Li-Ion Battery Charger"
    row = "ELECTRICAL CHARACTERISTICS · Battery Voltage Regulation · Min: 4.16 V · Typ: 4.20 V · Max: 4.24 V"
    named = CitedPage(document_id=1, source_name="charger.pdf", page=3, text=f"{title_line}\n{row}")
    plain = CitedPage(document_id=1, source_name="charger.pdf", page=3, text=f"{title_line}\n{row}")
    named.identity = frozenset({"li-ion", "charger", "battery"})

    assert compose(terms=terms, evidence=[plain], page_weights=[1.0], max_units=1).startswith(title_line)
    assert compose(terms=terms, evidence=[named], page_weights=[1.0], max_units=1).startswith("ELECTRICAL")


def test_a_line_with_a_value_of_the_kind_asked_for_leads() -> None:
    # "How long": the line with a time leads, though the other holds more of the question's words.
    terms = QueryTerms(weights={"long": 1.0, "erase": 2.0, "sector": 2.0})
    text = "\n".join(
        [
            "A long sector erase sets all memory within a sector to FFh and draws 25 mA.",
            "AC Electrical Characteristics · Sector Erase Time (4KB) · tSE · Typ: 30 ms · Max: 200 ms",
        ]
    )
    answer = compose(terms=terms, evidence=[_page(65, text)], page_weights=[1.0], max_units=2)
    assert answer.startswith("AC Electrical Characteristics")


def test_how_large_asks_for_a_size() -> None:
    assert asked_kinds(QueryTerms(weights={"large": 1.0, "fifo": 2.0, "buffers": 1.0})) == {"size"}
    text = "\n".join(
        [
            "The UART FIFO controller handles the transfer of data between the FIFO RX and TX buffers.",
            "Data transfer uses a 128 byte receive buffer and a 256 byte transmit buffer in the FIFO.",
        ]
    )
    terms = QueryTerms(weights={"large": 1.0, "fifo": 2.0, "buffers": 1.0, "receive": 1.0})
    answer = compose(terms=terms, evidence=[_page(15, text)], page_weights=[1.0], max_units=1)
    assert answer.startswith("Data transfer uses a 128 byte receive buffer")


def test_a_reset_value_asked_for_is_a_code() -> None:
    weights = {"reset": 1.0, "values": 1.0, "ard": 3.0, "arc": 3.0, "setup_retr": 4.0}
    assert "code" in asked_kinds(QueryTerms(weights=weights, pairs=(("reset", "values"),)))
    # "reset" and "value" apart ask for no code: "which value resets it".
    assert "code" not in asked_kinds(QueryTerms(weights=weights))
    text = "\n".join(
        [
            "The ARD defines the time to a retransmit; ARD is set in the SETUP_RETR register in steps of 250 us.",
            "Register map · Address: 04 · Mnemonic: ARC · Bit: 3:0 · Reset Value: 0011 · Auto Retransmit Count",
        ]
    )
    terms = QueryTerms(weights=weights, pairs=(("reset", "values"),))
    answer = compose(terms=terms, evidence=[_page(58, text)], page_weights=[1.0], max_units=1)
    assert answer.startswith("Register map")


def test_a_long_supporting_line_is_cut_at_a_cell() -> None:
    terms = QueryTerms(weights={"sleep": 3.0, "current": 1.0, "wakeup": 3.0})
    bits = " · ".join(f"bit {i}: wakeup source {i}" for i in range(40))
    long_row = f"Register map · Name: CTRL · Description: {bits}"
    evidence = [_page(8, f"Sleep current IDDSL 0.1 µA\n{long_row}")]
    lines = compose(terms=terms, evidence=evidence, page_weights=[1.0], max_units=2).split("\n")
    assert lines[0].startswith("Sleep current")
    assert len(lines[1]) < 420 and lines[1].endswith("… [1]")
    assert " · bit " in lines[1] and not lines[1].endswith("· … [1]")  # cut after a whole cell


def test_a_line_another_line_already_quotes_is_not_repeated() -> None:
    # A short line is shown with the short lines after it: the SRAM line, chosen on its own, is
    # then inside the ROM line's text as well; the answer says it once.
    terms = QueryTerms(weights={"rom": 2.0, "sram": 2.0})
    text = "\n".join(["• 448 KB of ROM for booting.", "• 520 KB of SRAM for data."])
    answer = compose(terms=terms, evidence=[_page(12, text)], page_weights=[1.0], max_units=2)
    assert answer.count("520 KB") == 1 and answer.count("448 KB") == 1


def test_a_table_row_stating_the_lead_sentences_value_leads_with_its_limits() -> None:
    terms = QueryTerms(weights={"battery": 2.0, "trickle": 3.0, "threshold": 2.0, "charge": 2.0})
    prose = _page(7, "When battery voltage falls below the trickle threshold (2.6V), charge current is limited.")
    table = _page(
        3, "ELECTRICAL CHARACTERISTICS · Parameter: Trickle Threshold Voltage · Min: 2.45 V · Typ: 2.60 V · Max: 2.75 V"
    )
    answer = compose(terms=terms, evidence=[prose, table], page_weights=[1.0, 0.7], max_units=2)
    assert answer.startswith("ELECTRICAL CHARACTERISTICS · Trickle Threshold Voltage · Min: 2.45 V")
    assert "[2]" in answer.split("\n")[0]
    # A row on the subject that states another value does not displace the sentence.
    other = _page(3, "ELECTRICAL CHARACTERISTICS · Parameter: Trickle Threshold Voltage · Typ: 190 mV")
    answer = compose(terms=terms, evidence=[prose, other], page_weights=[1.0, 0.7], max_units=2)
    assert answer.startswith("When battery voltage falls")


def test_a_row_whose_parameter_the_question_names_in_its_words_leads() -> None:
    weights = {"-3.3": 6.0, "output": 1.6, "voltage": 2.1, "input": 2.0, "window": 4.8, "guarantee": 4.5}
    terms = QueryTerms(weights=weights, pairs=(("output", "voltage"),))
    ranked_first = _page(3, "Parameter: Load Regulation · Device: AMS1117-3.3 · VIN = 5V, output at 1A · Max: 15 mV")
    right = _page(2, "Parameter: Output Voltage · Device: AMS1117-3.3 · Min: 3.235 V · Max: 3.365 V")

    def lead(terms: QueryTerms) -> str:
        evidence = [ranked_first, right]
        return select_units(terms=terms, evidence=evidence, page_weights=[1.0, 0.8], max_units=1).units[0].text

    assert "Output Voltage" in lead(terms)
    # Without the pair, the two rows hold the same terms and the top page's leads.
    assert "Load Regulation" in lead(QueryTerms(weights=weights))


def test_a_line_that_begins_with_the_end_of_an_earlier_line_goes_on_from_there() -> None:
    # The first line's sentence was finished from the next page, whose first line begins with it.
    terms = QueryTerms(weights={"address": 2.0, "sdo": 2.0, "floating": 2.0})
    first = _page(32, "Connecting SDO to GND results in slave address 0x76, which is the same as BMP280’s I2C address.")
    second = _page(33, "BMP280’s I2C address. The SDO pin cannot be left floating.")
    answer = compose(terms=terms, evidence=[first, second], page_weights=[1.0, 0.9], max_units=2)
    assert answer.count("BMP280’s I2C address") == 1
    assert "The SDO pin cannot be left floating." in answer


def lookup(*, terms: QueryTerms, evidence: list[CitedPage]) -> str:
    """A look-up answer, as FAST renders it."""
    weights = [1.0 - 0.1 * index for index in range(len(evidence))]
    return render(selection=select_lookup(terms=terms, evidence=evidence, page_weights=weights), evidence=evidence)


def test_a_supporting_line_that_adds_nothing_to_the_first_line_is_left_out() -> None:
    terms = QueryTerms(weights={"wakeup": 3.0, "stop": 2.0, "standby": 2.0, "mode": 1.0})
    table = _page(
        70,
        "Table 26 · Symbol: tWUSTOP · Parameter: Wakeup from Stop mode · Typ: 3.6 µs\n"
        "Table 26 · Symbol: tWUSTDBY · Parameter: Wakeup from Standby mode · Typ: 50 µs",
    )
    prose = _page(18, "Wakeup from Stop mode or Standby mode is triggered by an EXTI line event.")
    answer = lookup(terms=terms, evidence=[table, prose])
    assert answer.startswith("Table 26 · tWUSTOP") and "50 µs" in answer
    assert "EXTI" not in answer and "[2]" not in answer


def test_a_supporting_line_is_kept_when_it_states_the_value_the_first_line_does_not() -> None:
    terms = QueryTerms(weights={"reset": 3.0, "instruction": 2.0, "configuration": 2.0, "mode": 1.0, "byte": 1.0})
    prose = _page(63, "The Reset instruction byte re-initializes the registers and sets Configuration mode.")
    table = _page(64, "Table 12-1 · Instruction Name: RESET · Instruction Format: 1100 0000 · Description: Resets")
    answer = lookup(terms=terms, evidence=[prose, table])
    assert answer.startswith("The Reset instruction byte")
    assert "1100 0000" in answer


def test_rows_that_add_the_same_term_to_the_chosen_row_are_shown_once() -> None:
    # The operating range adds "range" and "operating"; the storage range adds nothing more.
    terms = QueryTerms(weights={"supply": 2.0, "voltage": 2.0, "range": 1.0, "operating": 1.0})
    rows = [
        "Table 4 · Symbol: Vdd · Parameter: Supply voltage · Min: 1.71 V · Max: 3.6 V",
        "Table 4 · Symbol: Top · Parameter: Operating temperature range · Min: -40 °C · Max: 85 °C",
        "Table 4 · Symbol: Tst · Parameter: Storage temperature range · Min: -55 °C · Max: 125 °C",
        "Table 4 · Symbol: Idd · Parameter: Current in normal mode · Typ: 0.9 mA",
        "Table 4 · Symbol: Iddpd · Parameter: Current in power-down · Typ: 6 µA",
    ]
    answer = lookup(terms=terms, evidence=[_page(17, "\n".join(rows))])
    assert answer.startswith("Table 4 · Vdd · Supply voltage · Min: 1.71 V")
    assert "Operating temperature range" in answer and "Storage" not in answer


def test_a_supporting_line_from_another_document_is_kept_though_it_adds_no_term() -> None:
    # A comparison answered as a look-up (FAST): the other part's line says what the first says.
    terms = QueryTerms(weights={"storage": 2.0, "temperature": 2.0})
    first = CitedPage(
        document_id=1, source_name="sensor-a.pdf", page=5, text="Table 5 · Parameter: Storage temperature · Max: +85 °C"
    )
    second = CitedPage(
        document_id=2,
        source_name="sensor-b.pdf",
        page=20,
        text="Table 8 · Symbol: TSTG · Ratings: Storage temperature · Maximum value: +125 °C",
    )
    answer = lookup(terms=terms, evidence=[first, second])
    assert "+85 °C" in answer and "+125 °C" in answer


def test_once_the_asked_value_is_stated_a_line_without_values_is_left_out() -> None:
    # The prose names the sensor and its input channel: question words, but no value.
    terms = QueryTerms(weights={"temperature": 1.0, "sensor": 1.0, "slope": 2.0, "output": 1.0, "voltage": 1.0})
    table = _page(80, "Table 51 · Symbol: Avg_Slope · Parameter: Average slope · Typ: 4.3 mV/°C · Max: 4.6 mV/°C")
    prose = _page(25, "The temperature sensor output is internally connected to the ADC12_IN16 input channel.")
    answer = lookup(terms=terms, evidence=[table, prose])
    assert answer.startswith("Table 51 · Avg_Slope") and "[2]" not in answer
    # A number standing alone may be what was asked, in a unit not recognised.
    counted = _page(25, "The temperature sensor output is internally connected to input channel 16.")
    assert "channel 16" in lookup(terms=terms, evidence=[table, counted])
    # Without a value of the kind asked on the first line, the same words are worth a line.
    table = _page(80, "Table 51 · Symbol: Avg_Slope · Parameter: Average slope · Note: see figure 12")
    assert "internally connected" in lookup(terms=terms, evidence=[table, prose])


def test_a_caption_or_heading_the_answer_shows_is_not_repeated() -> None:
    terms = QueryTerms(weights={"temperature": 1.0, "sensitivity": 2.0, "output": 1.0, "offset": 1.0})
    text = "\n".join(
        [
            "Table 5. Temperature sensor characteristics · Symbol: TSen · Parameter: Temperature sensitivity · "
            "Typ: 16 LSB/°C",
            "Table 5. Temperature sensor characteristics · Symbol: Toff · Parameter: Temperature offset · "
            "Min: -15 °C · Max: +15 °C",
            "Table 5. Temperature sensor characteristics · 2. The output of the temperature sensor is 0 LSB at 25 °C.",
        ]
    )
    answer = compose(terms=terms, evidence=[_page(18, text)], page_weights=[1.0], max_units=3)
    assert answer.count("Table 5. Temperature sensor characteristics") == 1
    assert "16 LSB/°C" in answer and "0 LSB at 25 °C" in answer


def test_a_numbered_heading_chosen_alone_is_shown_with_the_first_sentence_under_it() -> None:
    terms = QueryTerms(weights={"interface": 2.0, "selection": 2.0})
    text = "\n".join(
        [
            "6.1 Interface selection",
            "Interface choice is done automatically based on CSB (chip select) status. If CSB is connected to "
            "VDDIO, the I2C interface is active. If CSB is pulled down, the SPI interface is activated.",
        ]
    )
    answer = compose(terms=terms, evidence=[_page(32, text)], page_weights=[1.0], max_units=1)
    assert answer.startswith("6.1 Interface selection · Interface choice is done automatically")
    assert "If CSB is pulled down" not in answer


def test_once_the_asked_value_is_stated_a_value_of_another_kind_adds_nothing() -> None:
    terms = QueryTerms(weights={"drain": 3.0, "current": 3.0, "continuous": 2.0, "operating": 1.0})
    row = "Absolute Maximum Ratings · Parameter: Continuous Drain Current · Max: 33 A"
    answer = lookup(terms=terms, evidence=[_page(1, f"{row}\nOperating junction temperature up to 175 °C.")])
    assert "33 A" in answer and "175 °C" not in answer
    answer = lookup(terms=terms, evidence=[_page(1, f"{row}\nOperating in pulses at up to 110 A.")])
    assert "33 A" in answer and "110 A" in answer


def test_a_row_under_another_leaves_out_the_conditions_they_share_but_never_a_value() -> None:
    # IRF540N's ratings: the drain current at 25 °C and at 100 °C, under the same VGS.
    terms = QueryTerms(weights={"continuous": 2.0, "drain": 2.0, "current": 2.0, "case": 1.0})
    rows = [
        "Absolute Maximum Ratings · Symbol: ID @ TC = 25°C · Parameter: Continuous Drain Current, VGS @ 10V"
        " · Max.: 33 A",
        "Absolute Maximum Ratings · Symbol: ID @ TC = 100°C · Parameter: Continuous Drain Current, VGS @ 10V"
        " · Max.: 23 A",
        "Absolute Maximum Ratings · Symbol: IDM · Parameter: Pulsed Drain Current · Max.: 110 A",
        "Absolute Maximum Ratings · Symbol: PD @TC = 25°C · Parameter: Power Dissipation · Max.: 130 W",
        "Absolute Maximum Ratings · Symbol: VGS · Parameter: Gate-to-Source Voltage · Max.: ± 20 V",
    ]
    answer = lookup(terms=terms, evidence=[_page(1, "\n".join(rows))])
    assert answer.startswith(
        "Absolute Maximum Ratings · ID @ TC = 25°C · Continuous Drain Current, VGS @ 10V · Max.: 33 A;"
        " ID @ TC = 100°C · Max.: 23 A"
    )
    same = [rows[0], rows[1].replace("23 A", "33 A"), *rows[2:]]
    assert "ID @ TC = 100°C · Max.: 33 A" in lookup(terms=terms, evidence=[_page(1, "\n".join(same))])
