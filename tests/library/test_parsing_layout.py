"""Layout-aware parsing on real datasheet pages: table rows with their headers, reading order,
ratings lists, figure text kept out, Symbol-font glyphs made searchable."""

from functools import cache

import pypdfium2

from library.parsing.layout import CaptionSides, PageLayout
from library.parsing.pages import PageContext, parse_page
from library.parsing.tables import captioned_below
from tests.conftest import DATASHEETS

EXTRA = DATASHEETS.parent / "datasheets-extra"


@cache
def page(path: str, number: int, *, captions_below: bool = False, after_page_before: bool = False) -> PageLayout:
    """The page's layout; `after_page_before`: read after the page before it, as ingestion reads."""
    before = page(path, number - 1).last_table if after_page_before else None
    pdf = pypdfium2.PdfDocument(str(DATASHEETS.parent / path))
    try:
        return parse_page(pdf[number - 1], number, PageContext(captions_below=captions_below, table_before=before))
    finally:
        pdf.close()


def caption_sides(path: str) -> list[CaptionSides]:
    pdf = pypdfium2.PdfDocument(str(DATASHEETS.parent / path))
    try:
        return [parse_page(pdf[index], index + 1).captions for index in range(len(pdf))]
    finally:
        pdf.close()


def rows(layout: PageLayout) -> list[str]:
    return [unit.text for unit in layout.units if unit.kind == "row"]


def test_the_bme280_standby_table_gives_one_row_per_setting_with_its_headers_and_caption() -> None:
    found = rows(page("datasheets/bosch-bme280.pdf", 30))
    assert "Table 27: t_sb settings · t_sb[2:0]: 101 · tstandby [ms]: 1000" in found
    assert "Table 27: t_sb settings · t_sb[2:0]: 000 · tstandby [ms]: 0.5" in found
    assert "Table 28: filter settings · filter[2:0]: 100, others · Filter coefficient: 16" in found


def test_a_register_row_joins_a_description_wrapped_over_several_lines() -> None:
    found = rows(page("datasheets/bosch-bme280.pdf", 30))
    t_sb = next(row for row in found if "Name: t_sb[2:0]" in row)
    assert t_sb.endswith(
        "Description: Controls inactive duration tstandby in normal mode. "
        "See Table 27 for settings and chapter 3.3.4 for details."
    )
    assert "Bit 7, 6, 5" in t_sb


def test_the_ads1115_address_table_maps_each_pin_connection_to_its_address() -> None:
    found = rows(page("datasheets/ti-ads1115.pdf", 23))
    caption = "Table 4. ADDR Pin Connection and Corresponding Slave Address"
    for pin, address in [("GND", "1001000"), ("VDD", "1001001"), ("SDA", "1001010"), ("SCL", "1001011")]:
        assert f"{caption} · ADDR PIN CONNECTION: {pin} · SLAVE ADDRESS: {address}" in found


def test_an_electrical_characteristics_row_carries_min_typ_max_and_unit_under_each_part() -> None:
    found = rows(page("datasheets/renesas-icl7660.pdf", 3))
    assert (
        "PARAMETER: Supply Voltage Range - Hi · SYMBOL: VH+ · TEST CONDITIONS: MIN ≤ TA ≤ MAX, RL = 10kΩ, LV to Open"
        " · ICL7660 MIN: 3.0 V · ICL7660 MAX: 10.0 V · ICL7660A MIN: 3 V · ICL7660A MAX: 12 V"
    ) in found
    # A parameter cell spanning several condition rows names each of them.
    assert sum(row.startswith("PARAMETER: Output Source Resistance") for row in found) >= 6


def test_a_header_set_over_several_lines_names_every_column_of_the_rows_under_it() -> None:
    # SHT3x Table 7: "I2C Address in Hex." over "representation", set in the middle of a tall
    # header beside "SHT3x-DIS" and "Condition"; its lines were taken for rows.
    addresses = rows(page("datasheets-extra/sensirion-sht3x.pdf", 9))
    assert addresses == [
        "Table 7 I2C device addresses. · SHT3x-DIS: I2C address A · I2C Address in Hex. representation:"
        " 0x44 (default) · Condition: ADDR (pin 2) connected to logic low",
        "Table 7 I2C device addresses. · SHT3x-DIS: I2C address B · I2C Address in Hex. representation:"
        " 0x45 · Condition: ADDR (pin 2) connected to logic high",
    ]
    # LM358's TYP and MAX under each part name, which spans the rows of the header.
    characteristics = rows(page("datasheets-extra/ti-lm358.pdf", 7))
    assert any(
        "PARAMETER: Input Offset Voltage" in row and "LM358 TYP: 2 mV · MAX: 7 mV · LM2904 TYP: 2 mV" in row
        for row in characteristics
    )
    # A band holding a code is a row, not more header: W25Q128BV's manufacturer ID.
    identification = rows(page("datasheets-extra/winbond-w25q128bv.pdf", 18))
    assert "Manufacturer and Device Identification · MANUFACTURER ID: Winbond Serial Flash · (MF7-MF0): EFh" in (
        identification
    )


def test_rows_under_a_parameter_cell_merged_down_past_a_note_mark_carry_the_parameter() -> None:
    # "Output Voltage" heads the rows of every fixed version; the second row holds "(Note 2)".
    found = rows(page("datasheets-extra/ams-ams1117.pdf", 2))
    assert (
        "Parameter: Output Voltage · Device: AMS1117-3.3 · Conditions: 0 ≤ IOUT ≤ 1A , 4.75V ≤ VIN ≤ 12V"
        " · Min: 3.235 V · Typ: 3.300 V · Max: 3.365 V"
    ) in found
    assert not any("Parameter: (Note" in row for row in found)
    # A unit cell that sets its unit twice ("μA μA") gives it once.
    adjust = next(row for row in rows(page("datasheets-extra/ams-ams1117.pdf", 3)) if "Adjust Pin Current" in row)
    assert adjust.endswith("Typ: 55 μA · Max: 120 μA")


def test_a_rule_that_runs_through_a_headers_words_is_no_column_border() -> None:
    # The LM358's headers are shaded over rules that cut "PARAMETER" and "LM158A" in two.
    found = rows(page("datasheets-extra/ti-lm358.pdf", 5))
    offset = next(row for row in found if "Input Offset Voltage" in row)
    assert "PARAMETER: Input Offset Voltage · TEST CONDITIONS: See(2), TA = 25°C" in offset
    assert not any("PARAME ·" in row or "PARAME TER" in row or "LM158 A" in row for row in found)


def test_values_side_by_side_in_one_cell_go_under_their_own_columns() -> None:
    # TYP and MAX sit in one body cell under a part name; the header row rules them apart.
    found = rows(page("datasheets-extra/ti-lm358.pdf", 5))
    offset = next(row for row in found if "Input Offset Voltage" in row)
    assert offset.endswith(
        "LM158A TYP: 1 mV · LM158A MAX: 2 mV · LM358A TYP: 2 mV · LM358A MAX: 3 mV"
        " · LM158, LM258 TYP: 2 mV · LM158, LM258 MAX: 5 mV"
    )
    timing = rows(page("datasheets-extra/maxim-ds3231.pdf", 4))
    assert (
        "PARAMETER: Recovery at Power-Up · SYMBOL: tREC · CONDITIONS: (Note 13) · TYP: 250 ms · MAX: 300 ms" in timing
    )
    ratings = rows(page("datasheets/ti-ads1115.pdf", 6))
    assert "7.1 Absolute Maximum Ratings · Power-supply voltage · VDD to GND · MIN: –0.3 V · MAX: 7 V" in ratings
    # One value under both MIN and MAX is one rating, not a minimum.
    supply = next(row for row in rows(page("datasheets-extra/ti-lm358.pdf", 4)) if "Supply Voltage, V+" in row)
    assert supply.endswith("LM158A, LM258A, LM358A MIN MAX: 32 V · LM2904 MIN MAX: 26 V")


def test_a_table_ruled_only_between_sections_and_open_at_its_sides_reads_row_by_row() -> None:
    # ADI's specification table: full-width rules between sections, no rule at either side,
    # several parameters per section, MIN / TYP / MAX apart only by where they are written.
    found = rows(page("datasheets/adi-adxl345.pdf", 3))
    table = "Table 1. Specifications1 · Parameter: "
    # Each row under its section's title, its values under their own column, unit written on.
    assert (
        f"{table}SENSITIVITY Sensitivity at XOUT, YOUT, ZOUT · Test Conditions: ±2 g, 10-bit or full resolution"
        " · Min: 232 LSB/g · Typ: 256 LSB/g · Max: 286 LSB/g"
    ) in found
    assert f"{table}POWER SUPPLY Supply Current · Test Conditions: Data rate > 100 Hz · Typ: 145 μA" in found
    # A parameter given under two conditions names both rows; a condition wrapped onto a
    # second line stays with its row; the section's condition serves rows that give none.
    assert f"{table}POWER SUPPLY Supply Current · Test Conditions: Data rate < 10 Hz · Typ: 40 μA" in found
    assert (
        f"{table}NOISE PERFORMANCE Noise (x-, y-Axes) · Test Conditions: Data rate = 100 Hz for ±2 g, 10-bit or"
        " full resolution · Typ: <1.0 · Unit: LSB rms"
    ) in found
    assert (
        f"{table}SENSOR INPUT Inter-Axis Alignment Error · Test Conditions: Each axis · Min Typ Max: ±0.1 Degrees"
        in found
    )


def test_a_unit_column_is_written_onto_ranges_and_kept_when_no_value_takes_it() -> None:
    ratings = rows(page("datasheets-extra/allegro-a4988.pdf", 2))
    storage = "Absolute Maximum Ratings · Characteristic: Storage Temperature · Symbol: Tstg · Rating: –55 to 150 oC"
    assert storage in ratings
    timing = rows(page("datasheets/adi-adxl345.pdf", 11))
    hold = "Parameter: t63, 4, 5, 6 · Limit1, 2 Min Max: 0 0.65 · Unit: μs"
    assert any(hold in row for row in timing)  # no one value takes the unit ("0 0.65" is two): it stays a cell


def test_a_ratings_list_gives_each_entry_its_label_and_value() -> None:
    texts = [unit.text for unit in page("datasheets/renesas-icl7660.pdf", 3).units]
    # Each entry carries the heading of its own column, not the one beside it.
    assert "Absolute Maximum Ratings · Supply Voltage ICL7660: +10.5V" in texts
    assert "Absolute Maximum Ratings · Supply Voltage ICL7660A: +13.0V" in texts
    assert "Thermal Information · Maximum Storage Temperature Range: -65°C to 150°C" in texts


def test_a_ratings_list_set_without_leaders_joins_each_label_to_the_value_on_its_baseline() -> None:
    layout = page("datasheets-extra/ams-ams1117.pdf", 2)
    texts = [unit.text for unit in layout.units if unit.kind != "figure"]
    # Apart, "15V" and "φ JA= 90°C/W*" were lone values taken for figure text and lost.
    assert "ABSOLUTE MAXIMUM RATINGS (Note 1) · Input Voltage: 15V" in texts
    assert any(text.endswith("Thermal Resistance SOT-223 package: φ JA= 90°C/W*") for text in texts)
    assert any(text.endswith("Lead Temperature (10 sec): 300°C") for text in texts)
    # A label whose value is words stays as it was.
    assert "Power Dissipation" in texts and "Internally limited" in texts
    # An entry whose leader ends its line takes the value on its baseline, and the label above
    # it, not the column header beside the label ("θJA (°C/W) θJC (°C/W)").
    thermal = [unit.text for unit in page("datasheets/renesas-icl7660.pdf", 3).units]
    assert "Thermal Information · Thermal Resistance (Typical, Note 1) PDIP Package*: 110" in thermal
    assert "Thermal Information · Thermal Resistance (Typical, Note 1) SOIC Package: 160" in thermal
    # One pair under a header of its own is a row too (SHT3x's unruled Table 13).
    command = page("datasheets-extra/sensirion-sht3x.pdf", 12).units
    assert any(unit.kind == "item" and unit.text.endswith("Soft Reset: 0x30A2") for unit in command)
    # Pin names beside pin numbers in a package drawing are no ratings list.
    pins = page("datasheets/ti-ads1115.pdf", 5).units
    assert not any(unit.text.startswith(("ADDR: ", "SDA: ")) for unit in pins)


def test_symbol_font_glyphs_become_the_characters_people_type() -> None:
    text = page("datasheets/renesas-icl7660.pdf", 3).text
    assert "ICL7660A MAX: 165 μA" in text and "10kΩ" in text and "≤" in text
    assert not any(0xF000 <= ord(char) <= 0xF0FF for char in text)


def test_a_cross_references_link_text_drawn_apart_stays_in_its_sentence() -> None:
    # ADXL345 draws "Figure 8", "Table 11" … after the text around them: the lines broke at
    # each, the paragraph fell apart, and "0x1D" lost its sentence's end.
    text = page("datasheets/adi-adxl345.pdf", 10).text
    assert "requiring a simple 2-wire connection as shown in Figure 8. The ADXL345 conforms" in text
    assert "the 7-bit I2C address for the device is 0x1D, followed by the R/W bit." in text
    # Subscripts and notes drawn after their symbol join it: "VIN(2)", not "(2) VIN".
    ratings = rows(page("datasheets-extra/st-stm32f103c8.pdf", 37))
    assert any("Symbol: VIN(2) · Ratings: Input voltage on 5 V tolerant pin" in row for row in ratings)


def test_a_two_column_page_written_line_by_line_is_read_column_by_column() -> None:
    units = [unit.text for unit in page("datasheets-extra/ti-lm358.pdf", 1).units]
    features = units.index("1 Features")
    description = next(i for i, text in enumerate(units) if text.startswith("The LM158 series consists"))
    bullets = [i for i, text in enumerate(units) if text.startswith("1 Features · • ")]
    assert features < bullets[0] and len(bullets) >= 8
    # Every feature bullet comes before the description column, not interleaved with it.
    assert max(bullets) < description
    assert next(t for t in units if t.startswith("The LM158 series consists")).startswith(
        "The LM158 series consists of two independent, high gain, internally frequency compensated"
    )


def test_headings_stay_apart_from_the_paragraph_under_them_and_i2c_stays_one_word() -> None:
    units = page("datasheets/ti-ads1115.pdf", 23).units
    heading = next(unit for unit in units if "9.5.1.1 I2C Address Selection" in unit.text)
    assert heading.kind == "heading"
    paragraph = next(unit for unit in units if unit.text.startswith("The ADS111x have one address pin"))
    assert paragraph.kind == "paragraph" and "configures the I2C address of the device" in paragraph.text


def test_a_short_caption_stays_apart_from_the_paragraph_right_under_it() -> None:
    units = page("datasheets/bosch-bme280.pdf", 32).units
    assert any(unit.text == "Figure 8: SDI/SCK ESD drawing" for unit in units)
    assert any(unit.text.startswith("The 7-bit device address is 111011x.") for unit in units)
    # A sentence that begins with "Figure 1" is no caption.
    assert any(
        unit.text.startswith("Figure 1 shows the address map")
        for unit in page("datasheets-extra/maxim-ds3231.pdf", 11).units
    )


def test_a_caption_names_the_table_under_it_not_the_one_in_the_other_column() -> None:
    found = rows(page("datasheets/microchip-mcp2515.pdf", 54))
    assert any(row.startswith("TABLE 8-1 Typical Capacitor Values Used · Mode: HS") for row in found)
    # The right column's table, under its own caption at the same height.
    assert any(row.startswith("TABLE 8-2 · Osc Type(1)(4): HS · Crystal Freq.(2): 4 MHz") for row in found)


def test_a_document_that_captions_below_its_tables_gives_each_table_the_caption_under_it() -> None:
    assert captioned_below(caption_sides("datasheets-extra/sensirion-sht3x.pdf"))
    assert not captioned_below(caption_sides("datasheets/adi-adxl345.pdf"))
    # Each caption sits between two tables; read as the document captions, each names the one above.
    below = page("datasheets-extra/nordic-nrf24l01p.pdf", 54, captions_below=True)
    assert below.captions.side_matters
    starts = {row.split(" · ")[0] for row in rows(below)}
    assert starts == {
        "Table 23. SPI timing parameters (Cload = 10pF)",
        "Table 24. SPI timing parameters (Rpull = 10k, Cload = 50pF)",
        "Table 25. SPI timing parameters (Rpull = 10k, Cload = 100pF)",
    }


def test_a_table_running_on_over_a_page_break_without_its_header_takes_the_header_of_its_start() -> None:
    # BME280 p. 10 starts "Table 3: Pressure parameter specification"; p. 11 goes on with no header.
    alone = rows(page("datasheets/bosch-bme280.pdf", 11))
    assert not any("Absolute accuracy pressure" in row and "Typ: ±1.0 hPa" in row for row in alone)
    found = rows(page("datasheets/bosch-bme280.pdf", 11, after_page_before=True))
    assert (
        "Table 3: Pressure parameter specification · Parameter: Absolute accuracy pressure · Symbol: AP,full"
        " · Condition: 300 . . . 1100 hPa 0 . . . 65 °C · Typ: ±1.0 hPa"
    ) in found
    # The next table on that page has its own caption and header, and a page's first table
    # that sets its header again keeps it (nRF24L01+'s register map, page after page).
    table_4 = "Table 4: Temperature parameter specification · Parameter: Operating range"
    assert any(row.startswith(table_4) for row in found)
    register_map = rows(page("datasheets-extra/nordic-nrf24l01p.pdf", 59, after_page_before=True))
    assert register_map == rows(page("datasheets-extra/nordic-nrf24l01p.pdf", 59))


def test_a_table_whose_first_row_already_says_something_has_no_header_row() -> None:
    # LSM6DS33's register descriptions are "bit | description" with no header: BOOT is a bit,
    # not the name of the column every other bit sits in.
    register = rows(page("datasheets/st-lsm6ds33.pdf", 49))
    assert "Table 50. CTRL3_C register description · BOOT · Reboot memory content." in register[0]
    if_inc = next(row for row in register if " · IF_INC · " in row)
    assert "Default value: 1 (0: disabled; 1: enabled)" in if_inc
    assert not any("BOOT:" in row for row in register)
    # A header of short labels stays one, abbreviations ("Typ. current") and all.
    noise = rows(page("datasheets/bosch-bme280.pdf", 22))
    assert any("Typ. current [μA] at 1 Hz forced" in row for row in noise)


def test_chart_text_and_equation_glyphs_are_figure_text_never_quoted() -> None:
    chart = page("datasheets/infineon-irf540n.pdf", 4)
    ticks = [unit for unit in chart.units if unit.text in {"500", "1000", "1500", "2000"}]
    assert ticks and all(unit.kind == "figure" for unit in ticks)
    assert "Capacitance" not in chart.text.replace("Typical Capacitance", "")  # the turned axis title
    equation = page("datasheets/nxp-pca9685.pdf", 25)
    assert all(unit.kind == "figure" for unit in equation.units if unit.text in {"×", "(1)", "(2)"})
    assert "round" not in equation.text.split("formula")[0]
    # A step of few and short words is still text when words join it ("at", "for").
    steps = page("datasheets/bosch-bme280.pdf", 46)
    kinds = {unit.kind for unit in steps.units if unit.text.startswith("120 °C at <5% rH for 2 h")}
    assert kinds == {"paragraph"}


def test_every_unit_has_a_box_on_its_page() -> None:
    layout = page("datasheets/bosch-bme280.pdf", 30)
    for unit in layout.units:
        assert 0 <= unit.box.x0 < unit.box.x1 <= layout.width
        assert 0 <= unit.box.top < unit.box.bottom <= layout.height


def test_a_first_page_title_says_what_the_part_is() -> None:
    assert "Humidity and Temperature Sensor" in page("datasheets-extra/sensirion-sht3x.pdf", 1).title
    assert page("datasheets/bosch-bme280.pdf", 1).title == "BME280 Combined humidity and pressure sensor"
    assert "Stand-Alone CAN Controller" in page("datasheets/microchip-mcp2515.pdf", 1).title
    # A vendor's name and the part number alone are a thin title: the next size of type says what it is.
    assert "LOW DROPOUT VOLTAGE REGULATOR" in page("datasheets-extra/ams-ams1117.pdf", 1).title
    assert "CMOS Voltage Converters" in page("datasheets/renesas-icl7660.pdf", 1).title
    long_title = page("datasheets/ti-ads1115.pdf", 1).title  # a long subtitle is cut, never overflows
    assert long_title.startswith("ADS1113, ADS1114, ADS1115") and len(long_title) <= 200
