"""library/search/text.py: the row format's rules, shared by the answerer and the page marks."""

from library.search.text import finished_from_next_page, is_row, quoted_in, shown_cell, shown_cells

ROW = "Absolute Maximum Ratings · Characteristic: Output Current · Symbol: IOUT · Rating: ±2 A"


def test_a_row_is_told_from_a_paragraph_with_a_heading() -> None:
    assert is_row(ROW)
    assert not is_row("Internal PWM Current Control · Each full-bridge is controlled by a fixed off-time PWM.")


def test_a_descriptive_cell_is_shown_without_its_header_a_value_with_it() -> None:
    assert shown_cell("Symbol: IOUT") == "IOUT"
    assert shown_cell("PARAME TER: Short Circuit to Ground") == "Short Circuit to Ground"
    assert shown_cell("Rating: ±2 A") == "Rating: ±2 A"
    # A qualified or compound descriptive header goes too; a lone footnote mark says nothing.
    assert shown_cell("Parameter (condition): Supply current in power down") == "Supply current in power down"
    assert shown_cell("INSTRUCTION NAME: JEDEC ID") == "JEDEC ID"
    assert shown_cell("Notes: a") == ""
    assert shown_cell("Note: 2, 3") == ""
    assert shown_cell("Notes: Range S") == "Notes: Range S"
    assert shown_cell("Comments: External crystal, Ls = 90mH") == "External crystal, Ls = 90mH"


def test_a_header_over_several_columns_is_shown_once() -> None:
    # MCP2515's clock-in row: one conditions header spans the min, max and unit columns.
    spanning = "VDD = 2.7V to 5.5V"
    row = f"Clock-In Frequency · {spanning}: 1 · {spanning}: 40 · {spanning}: MHz · Symbol: FOSC"
    assert shown_cells(row.split(" · ")) == ["Clock-In Frequency", f"{spanning}: 1", "40", "MHz", "FOSC"]
    assert quoted_in(row, f"Clock-In Frequency · {spanning}: 1 · 40 · MHz · FOSC. [1]", least=40)
    assert not quoted_in(row, f"Clock-In Frequency · {spanning}: 1 · 25 · MHz · FOSC. [1]", least=40)


def test_an_answer_quotes_a_row_cell_by_cell_and_a_paragraph_by_a_sentence() -> None:
    # Rows of one table share a line: the second shows only the cells it does not share.
    answer = (
        "Absolute Maximum Ratings · Load Supply Voltage · VBB · Rating: 35 V; Output Current · IOUT · Rating: ±2 A. [1]"
    )
    assert quoted_in(ROW, answer, least=40)
    assert not quoted_in(ROW.replace("±2 A", "±3 A"), answer, least=40)
    paragraph = (
        "Register 0x1D—THRESH_TAP (Read/Write). The THRESH_TAP register is eight bits and holds the threshold "
        "value for tap interrupts. The scale factor is 62.5 mg/LSB (that is, 0xFF = +16 g)."
    )
    assert quoted_in(
        paragraph,
        "Register 0x1D—THRESH_TAP (Read/Write). … The scale factor is 62.5 mg/LSB (that is, 0xFF = +16 g). [1]",
        least=40,
    )
    # The heading alone is too short to say which paragraph was quoted.
    assert not quoted_in(paragraph, "Register 0x1D—THRESH_TAP (Read/Write). [1]", least=40)


def test_a_sentence_the_page_break_cuts_is_finished_by_the_next_pages_first_sentence() -> None:
    cut = "6.2 I2C Interface\nConnecting SDO to GND results in slave address 0x76; to VDDIO, 0x77, which is the same as"
    finished = finished_from_next_page(cut, "BMP280’s I2C address. The SDO pin cannot be left floating.")
    assert finished.endswith("0x77, which is the same as BMP280’s I2C address.")
    # A page that ends a sentence, or whose next page starts anew, is left as it is.
    whole = "The device is reset when VDD rises above the power-on threshold voltage, and not before."
    assert finished_from_next_page(whole, "next page.") == whole
    heading = cut.replace(" as", " 0x77")
    assert finished_from_next_page(heading, "7 Package") == heading
    assert finished_from_next_page(heading, "Table 3 · Pin: 1 · Name: VDD") == heading
