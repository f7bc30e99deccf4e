"""Every real datasheet ingests to page-exact chunks."""

import re
import unicodedata
from pathlib import Path

import pypdf
import pypdfium2
import pytest

from library.embeddings import count_tokens
from library.parsing.chunking import TARGET_TOKENS
from library.parsing.pages import PageContext, parse_page
from library.parsing.pdf_text import normalise_text
from tests.datasheets import datasheet_paths

_GLYPH = re.compile(r"/[gG]\d+")
# The pages without a usable text layer (library.parsing.ocr.text_layer_usable), read by OCR.
OCR_PAGES = {"microchip-mcp2515.pdf": {76, 77, 79, 81}, "ti-ads1115.pdf": {52, 53}}


def _words(text: str) -> list[str]:
    # NFKC on both sides: mathematical letters in formulas fold to ASCII in our chunks.
    return re.findall(r"[A-Za-z]{5,}", unicodedata.normalize("NFKC", text))


def pdfium_text(path: Path, index: int) -> str:
    pdf = pypdfium2.PdfDocument(path)
    try:
        textpage = pdf[index].get_textpage()
        return textpage.get_text_range()
    finally:
        pdf.close()


def _compact(text: str) -> str:
    return re.sub(r"[\s\x00-\x1f-]+", "", unicodedata.normalize("NFKC", text))


def carried_head(path: Path, page: int) -> str:
    """The caption and header text a table at the top of `page` takes from the page before."""
    pdf = pypdfium2.PdfDocument(path)
    try:
        before = parse_page(pdf[page - 2], page - 1).last_table if page > 1 else None
        if before is None:
            return ""
        layout = parse_page(pdf[page - 1], page, PageContext(table_before=before))
    finally:
        pdf.close()
    if not any(unit.kind == "row" and unit.text.startswith(f"{before.caption} · ") for unit in layout.units):
        return ""
    return " ".join([before.caption, *(text for band in before.headers for _box, text in band)])


@pytest.mark.slow
@pytest.mark.django_db
def test_every_datasheet_ingests_to_ready_with_page_exact_chunks(datasheet_snapshots) -> None:
    assert {s.source_name for s in datasheet_snapshots} == {p.name for p in datasheet_paths()}
    for snapshot, path in zip(datasheet_snapshots, datasheet_paths(), strict=True):
        reader = pypdf.PdfReader(path)
        assert snapshot.pages_total == len(reader.pages)
        assert snapshot.chunks, snapshot.source_name
        pages_with_chunks = {chunk["page"] for chunk in snapshot.chunks}
        # Pages whose text layer is unusable (package drawings set in glyphs without Unicode) are
        # read by OCR, so their words are not in the text layer.
        assert set(snapshot.ocr_pages) <= OCR_PAGES.get(snapshot.source_name, set()), snapshot.source_name
        for page in pages_with_chunks - set(snapshot.ocr_pages):
            # The page's text as pypdf and as pdfium read it (the layout is pdfium's).
            raw_compact = _compact(reader.pages[page - 1].extract_text() + pdfium_text(path, page - 1))
            carried: str | None = None
            for chunk in (c for c in snapshot.chunks if c["page"] == page):
                # Every word of the chunk comes from that page's own text: no chunk spans two pages,
                # but for the caption and header a table running on takes from the page before
                # (parsed only for a page whose chunks hold words its own text lacks).
                foreign = [w for w in _words(chunk["text"]) if w not in raw_compact]
                if foreign:
                    carried = _compact(carried_head(path, page)) if carried is None else carried
                    foreign = [w for w in foreign if w not in carried]
                assert not foreign, (snapshot.source_name, page, foreign[:10])
        # Pages with a real text layer are all represented.
        # (Filler such as a blank page's "xxxxxxxx" placeholders is no text.)
        text_pages = {
            i + 1
            for i, p in enumerate(reader.pages)
            if len(_GLYPH.sub("", normalise_text(p.extract_text())).strip()) >= 300
        }
        assert text_pages <= pages_with_chunks, (snapshot.source_name, sorted(text_pages - pages_with_chunks))


@pytest.mark.slow
@pytest.mark.django_db
def test_chunks_are_sized_for_the_embedding_model(datasheet_snapshots) -> None:
    for snapshot in datasheet_snapshots:
        for chunk in snapshot.chunks:
            assert chunk["token_count"] <= TARGET_TOKENS
        sample = snapshot.chunks[:5]
        assert [c["token_count"] for c in sample] == count_tokens([c["text"] for c in sample])


@pytest.mark.slow
@pytest.mark.django_db
def test_a_datasheet_that_captions_below_its_tables_is_ingested_with_each_caption_on_its_own_table(
    datasheet_snapshots,
) -> None:
    # FTDI writes each caption under its table, so "Table 3.2" sits between the 3.2 table and the
    # 3.3 one, right over the latter; read the usual way, the 3.3 pins took "Table 3.2".
    ft232r = next(snapshot for snapshot in datasheet_snapshots if snapshot.source_name == "ftdi-ft232r.pdf")
    units = [unit["text"] for unit in ft232r.page_units[8]]
    assert any(text.startswith("Table 3.3 Miscellaneous Signal Group · Pin No.: 19 · Name: RESET#") for text in units)
    assert any(text.startswith("Table 3.2 Power and Ground Group · Pin No.: 20 · Name: VCC") for text in units)
    assert not any(text.startswith("Table 3.2 Power and Ground Group · Pin No.: 19") for text in units)
    page_8 = " ".join(chunk["text"] for chunk in ft232r.chunks if chunk["page"] == 8)
    assert "Table 3.3 Miscellaneous Signal Group · Pin No.: 19" in page_8


@pytest.mark.slow
@pytest.mark.django_db
def test_a_table_running_on_over_a_page_break_is_ingested_with_the_header_of_its_start(datasheet_snapshots) -> None:
    bme280 = next(snapshot for snapshot in datasheet_snapshots if snapshot.source_name == "bosch-bme280.pdf")
    page_11 = " ".join(chunk["text"] for chunk in bme280.chunks if chunk["page"] == 11)
    assert "Table 3: Pressure parameter specification · Parameter: Absolute accuracy pressure" in page_11
    assert "Typ: ±1.0 hPa" in page_11
