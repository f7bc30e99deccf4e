"""OCR on scans made from the real datasheets: IRF540N pages rendered at 200 dpi (as a scanner
gives them) and wrapped into an image-only PDF and into a mixed PDF, built in the tests."""

import builtins
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdfium2
import pytest

from library.parsing import ocr
from library.parsing.ocr import (
    OcrPage,
    OcrPageTimeout,
    OcrPageUnreadable,
    configured_threads,
    ocr_engine,
    ocr_page,
    ocr_page_layout,
    text_layer_usable,
)
from tests.conftest import DATASHEETS
from tests.library.pdfs import scanned_pdf

IRF540N = DATASHEETS / "infineon-irf540n.pdf"


@pytest.fixture(scope="module")
def scan() -> Iterator[pypdfium2.PdfDocument]:
    """IRF540N pages 1 (ratings) and 2 (electrical characteristics), images only."""
    pdf = pypdfium2.PdfDocument(scanned_pdf([(IRF540N, 1), (IRF540N, 2)], dpi=200))
    yield pdf
    pdf.close()


@pytest.fixture(scope="module")
def first_page(scan: pypdfium2.PdfDocument) -> OcrPage:
    return ocr_page(scan[0], 1, timeout_s=None)


@pytest.fixture(scope="module")
def second_page(scan: pypdfium2.PdfDocument) -> OcrPage:
    return ocr_page(scan[1], 2, timeout_s=None)


def rows(page: OcrPage) -> list[str]:
    return [unit.text for unit in ocr_page_layout(page).units if unit.kind == "row"]


def test_the_scanned_first_page_states_44_milliohms_and_33_amperes(first_page: OcrPage) -> None:
    assert "RDS(on) = 44mΩ" in first_page.text
    drain_current = [row for row in rows(first_page) if "Continuous Drain Current" in row]
    assert drain_current, rows(first_page)
    assert drain_current[0].endswith("Max.: 33 A")


def test_the_scanned_ratings_table_comes_out_as_rows_with_their_headers(first_page: OcrPage) -> None:
    found = rows(first_page)
    assert any(re.search(r"Parameter: Power Dissipation · Max\.: 130 W$", row) for row in found), found
    assert any(re.search(r"Parameter: Linear Derating Factor · Max\.: 0\.87 W/°C$", row) for row in found), found


def test_the_scanned_characteristics_table_gives_the_on_resistance_row(second_page: OcrPage) -> None:
    on_resistance = [row for row in rows(second_page) if "Static Drain-to-Source On-Resistance" in row]
    assert len(on_resistance) == 1, rows(second_page)
    assert "Max.: 44 mΩ" in on_resistance[0]
    assert "ID = 16A" in on_resistance[0]


def test_words_carry_boxes_on_the_page_in_pdf_points(first_page: OcrPage) -> None:
    # The scan is 612 × 792 points; the part number stands in the top right quarter.
    part = next(word for line in first_page.lines for word in line.words if word.text == "IRF540N")
    assert 306 < part.box.x0 < part.box.x1 < 612
    assert 0 < part.box.top < part.box.bottom < 200
    assert all(0 <= line.box.x0 <= line.box.x1 <= 612.5 for line in first_page.lines)
    assert all(0 <= line.box.top <= line.box.bottom <= 792.5 for line in first_page.lines)


def test_the_text_layer_check_says_no_for_scanned_pages_and_yes_for_text_pages(
    scan: pypdfium2.PdfDocument,
) -> None:
    assert [text_layer_usable(scan[index]) for index in range(len(scan))] == [False, False]
    original = pypdfium2.PdfDocument(str(IRF540N))
    try:
        assert all(text_layer_usable(original[index]) for index in range(len(original)))
    finally:
        original.close()


def test_a_mixed_pdf_needs_ocr_only_on_its_image_pages() -> None:
    mixed = pypdfium2.PdfDocument(scanned_pdf([(IRF540N, 1), (IRF540N, 2), (IRF540N, 8)], keep_text=frozenset({0, 2})))
    try:
        assert [text_layer_usable(mixed[index]) for index in range(len(mixed))] == [True, False, True]
    finally:
        mixed.close()


def test_a_page_past_its_timeout_raises_a_page_error_as_the_time_is_up(
    scan: pypdfium2.PdfDocument, first_page: OcrPage
) -> None:
    started = time.monotonic()
    with pytest.raises(OcrPageTimeout) as raised:
        ocr_page(scan[0], 1, timeout_s=1.0)
    elapsed = time.monotonic() - started
    assert isinstance(raised.value, OcrPageUnreadable)
    assert raised.value.number == 1
    assert "longer than 1 s" in str(raised.value)
    # The model run in progress (detection takes seconds) is stopped at the deadline, not
    # left to finish.
    assert elapsed < 1.8 < first_page.seconds, (elapsed, first_page.seconds)


def test_a_page_that_cannot_be_rendered_is_reported_as_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise pypdfium2.PdfiumError("damaged content stream")

    pdf = pypdfium2.PdfDocument(scanned_pdf([(IRF540N, 1)]))
    try:
        page = pdf[0]
        monkeypatch.setattr(page, "render", broken)
        with pytest.raises(OcrPageUnreadable, match="page 3: the page cannot be rendered: damaged content stream"):
            ocr_page(page, 3)
    finally:
        pdf.close()


def test_an_ocr_runtime_that_cannot_load_is_reported_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def without_libgl(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("rapidocr_onnxruntime"):  # as on a slim Debian: OpenCV cannot find libGL
            raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_libgl)
    with pytest.raises(ocr.OcrUnavailable, match=r"the OCR runtime cannot be loaded: libGL\.so\.1"):
        ocr.OcrEngine(threads=1)


def test_threads_share_one_engine_per_process() -> None:
    engines: list[ocr.OcrEngine] = []
    workers = [threading.Thread(target=lambda: engines.append(ocr_engine())) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(engines) == 4
    assert all(engine is ocr_engine() for engine in engines)


def test_ocr_threads_come_from_the_environment_and_default_to_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCR_THREADS", raising=False)
    assert configured_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OCR_THREADS", "1")
    assert configured_threads() == 1
    monkeypatch.setenv("OCR_THREADS", "two")
    with pytest.raises(ValueError, match="OCR_THREADS must be a whole number"):
        configured_threads()


def test_the_models_come_from_the_installed_wheel_not_a_download() -> None:
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    assert (models / ocr.DETECTION_MODEL).is_file()
    assert (models / ocr.RECOGNITION_MODEL).is_file()


# Register maps and tables set in sans-serif type, where 0 and O, and a "1" and the gap
# beside it, are easily misread; scanned at 300 dpi, as bench/ocr.py scans them.
MCP2515 = DATASHEETS / "microchip-mcp2515.pdf"
PCA9685 = DATASHEETS / "nxp-pca9685.pdf"
ICL7660 = DATASHEETS / "renesas-icl7660.pdf"
ESP32 = DATASHEETS / "espressif-esp32-wroom-32.pdf"
MP2603 = DATASHEETS.parent / "datasheets-extra" / "mps-mp2603.pdf"
LM358 = DATASHEETS.parent / "datasheets-extra" / "ti-lm358.pdf"
NRF24L01 = DATASHEETS.parent / "datasheets-extra" / "nordic-nrf24l01p.pdf"


def _scanned_page(path: Path, number: int) -> OcrPage:
    pdf = pypdfium2.PdfDocument(scanned_pdf([(path, number)], dpi=300))
    try:
        return ocr_page(pdf[0], number, timeout_s=None)
    finally:
        pdf.close()


def _words(page: OcrPage) -> list[str]:
    return [word.text.rstrip(",") for line in page.lines for word in line.words]


@pytest.mark.slow
def test_register_names_read_with_o_take_the_digit_their_siblings_on_the_page_have() -> None:
    words = _words(_scanned_page(MCP2515, 61))  # the register map: RXF0SIDH … RXB1CTRL
    for name in ("RXF0SIDH", "RXM0SIDL", "TXB0CTRL", "RXF0EID0", "RXB0D0", "OPMOD0", "FILHIT0"):
        assert name in words, name
    assert not {"RXFOSIDH", "TXBOCTRL", "RXFOEIDO"} & set(words)
    # TXBO (a flag: transmit bus-off) has no sibling with a digit there, and keeps its O.
    assert "TXBO" in words


@pytest.mark.slow
def test_hex_addresses_and_bits_read_with_o_take_the_digit_of_their_column_and_lines() -> None:
    page = _scanned_page(PCA9685, 10)  # the register summary: address, bits D7-D0, name
    words = _words(page)
    for address in ("0A", "0B", "0C", "0D", "0E", "0F"):
        assert address in words, address
    assert not {"OA", "OB", "OC", "OD", "OE", "OF"} & set(words)
    assert "D0" in words and "DO" not in words
    assert "LED0" in words or "LED0_ON_L" in words
    bytes_0 = [line.text for line in page.lines if line.text.startswith("brightness control byte")]
    assert bytes_0.count("brightness control byte 0") == 4, bytes_0


@pytest.mark.slow
def test_a_number_with_a_1_is_one_word_though_the_1_leaves_a_wide_gap() -> None:
    words = _words(_scanned_page(ICL7660, 3))  # electrical characteristics: 1.5 V, 1.0 MΩ
    assert "1.5" in words and "1.0" in words
    assert ".5" not in words and ".0" not in words


@pytest.mark.slow
def test_pin_names_read_as_numbers_take_the_name_the_page_writes_inside_longer_ones() -> None:
    page = _scanned_page(ESP32, 9)  # the pin table: IO34 … IO23 by GPIO34 … GPIO23
    words = _words(page)
    for name in ("IO34", "IO35", "IO0", "IO2", "IO4", "IO15", "IO23"):
        assert name in words, name
    assert not {"1034", "1035", "100", "102", "104", "I015", "1023"} & set(words)
    # The pin numbers beside them are numbers still.
    assert {"6", "7", "10", "23", "38"} <= set(words)


@pytest.mark.slow
def test_a_zero_after_a_sign_read_as_o_is_typed_as_zero() -> None:
    # The charger's characteristics: "ICHG = 0A" read "ICHG = OA"; LM358's "RS = 0Ω" read "Rs = OQ".
    lines = [line.text for line in _scanned_page(MP2603, 3).lines]
    assert any(re.search(r"= 0A\b", line) for line in lines), lines
    assert not any("= OA" in line for line in lines)
    lines = [line.text for line in _scanned_page(LM358, 6).lines]
    assert any(line.endswith("= 0Ω") for line in lines) and not any("= OQ" in line for line in lines)


@pytest.mark.slow
def test_a_register_name_with_a_bit_range_is_a_sibling_for_names_read_with_o() -> None:
    # nRF24L01+ p. 60 writes RX_ADDR_P1[39:8] beside "Set RX_ADDR_P0 equal to this address".
    words = _words(_scanned_page(NRF24L01, 60))
    assert "RX_ADDR_P0" in words and "RX_ADDR_PO" not in words
