"""A PDF page as units in reading order (`parse_page`), and what ingestion indexes of it
(`indexed_text`); running headers and footers are dropped document-wide by ingestion
(`library.parsing.pdf_text.strip_running_headers`).
"""

import logging
from dataclasses import dataclass

import pypdf
import pypdfium2

from library.parsing.layout import (
    Box,
    Char,
    Edge,
    Line,
    PageLayout,
    TableHead,
    Unit,
    build_lines,
    join_listed_values,
    page_edges,
    reading_order,
    text_layer_chars,
    text_units,
    title_of,
)
from library.parsing.pdf_text import extract_page_text, normalise_text
from library.parsing.pdfium_lock import PDFIUM
from library.parsing.tables import page_tables, row_units, runs_on

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageContext:
    """What reading a page needs of the rest of its document: which side its tables' captions
    are on (`library.parsing.tables.captioned_below`, known once all pages are read) and the
    last table of the page before, which a table at the top of this page may run on from."""

    captions_below: bool = False
    table_before: TableHead | None = None


def parse_page(page: pypdfium2.PdfPage, number: int, context: PageContext = PageContext()) -> PageLayout:
    with PDFIUM:
        width, height = page.get_size()
        chars = text_layer_chars(page)
        edges = page_edges(page, height)
    return layout_from_chars(chars, edges, width, height, number, context)


def layout_from_chars(
    chars: list[Char], edges: list[Edge], width: float, height: float, number: int, context: PageContext = PageContext()
) -> PageLayout:
    """A page's layout from its characters and ruling lines, wherever they came from: the
    text layer (`parse_page`) or OCR (`library.parsing.ocr.ocr_page_layout`)."""
    lines = build_lines(chars)
    tables, captions = page_tables(chars, edges, lines, width, height, captions_below=context.captions_below)
    topmost = min(range(len(tables)), key=lambda i: tables[i][0].box.top, default=None)
    lowest = max(range(len(tables)), key=lambda i: tables[i][0].box.bottom, default=None)
    last_table = None
    boxes = [table.box for table, _ in tables]

    def in_table(line: Line) -> bool:
        return _table_of(line, boxes) is not None

    # Table cells sit on both sides of any gutter: the column test reads the other lines only.
    lines = reading_order(lines, width, ignore=in_table)
    lines = join_listed_values(lines, width, ignore=in_table)
    units: list[Unit] = []
    run: list[Line] = []
    placed: set[int] = set()
    for line in lines:  # the content stream's order; a table's rows go where its text starts
        inside = _table_of(line, boxes)
        if inside is None:
            run.append(line)
            continue
        if inside not in placed:
            units.extend(text_units(run))
            run = []
            table, caption = tables[inside]
            before = context.table_before if inside == topmost and not caption else None
            # A table without a "Table N" caption is named by a heading right above it.
            rows, head = row_units(
                table,
                caption or _heading_over(table.box, units, within=40),
                before if runs_on(table, before) else None,
            )
            units.extend(rows)
            if inside == lowest:
                last_table = head
            placed.add(inside)
    units.extend(text_units(run))
    return PageLayout(
        number=number,
        width=width,
        height=height,
        units=_in_context(units),
        title=title_of(lines),
        captions=captions,
        last_table=last_table,
    )


def _heading_over(box: Box, units: list[Unit], *, within: float = 10_000.0) -> str:
    """The nearest heading read before `box` that stands above it in its column, at most
    `within` points above."""
    for unit in reversed(units):
        if unit.kind != "heading" or len(unit.text) > 80:
            continue
        if unit.box.bottom <= box.top + 2 and unit.box.x0 < box.x1 and box.x0 < unit.box.x1:
            return unit.text if box.top - unit.box.bottom <= within else ""
    return ""


def _in_context(units: list[Unit]) -> list[Unit]:
    """A list item or rating says little alone ("Supply Voltage ICL7660: +10.5V"): it carries
    its section's heading ("Absolute Maximum Ratings · Supply Voltage ICL7660: +10.5V")."""
    out: list[Unit] = []
    for unit in units:
        heading = _heading_over(unit.box, out) if unit.kind == "item" else ""
        if heading:
            unit = Unit("item", f"{heading} · {unit.text}", unit.box)
        out.append(unit)
    return out


def _table_of(line: Line, boxes: list[Box]) -> int | None:
    middle_x = (line.box.x0 + line.box.x1) / 2
    middle_y = (line.box.top + line.box.bottom) / 2
    return next((i for i, box in enumerate(boxes) if box.contains_point(middle_x, middle_y, margin=1.0)), None)


def unit_boxes(layout: PageLayout) -> list[dict[str, object]]:
    """The page's indexed units (figure text aside) as they are indexed, each with its box
    in fractions of the page's width and height (top-down), for outlining on its image."""
    width, height = max(layout.width, 1.0), max(layout.height, 1.0)
    return [
        {
            "text": normalise_text(unit.text),
            "box": [
                round(unit.box.x0 / width, 4),
                round(unit.box.top / height, 4),
                round(unit.box.x1 / width, 4),
                round(unit.box.bottom / height, 4),
            ],
        }
        for unit in layout.units
        if unit.kind != "figure"
    ]


def page_layout(pdf: pypdfium2.PdfDocument, index: int, context: PageContext = PageContext()) -> PageLayout:
    """Page `index` (0-based); its `.text` (units one a line, figure text left out) is indexed."""
    with PDFIUM:
        page = pdf[index]
    try:
        return parse_page(page, index + 1, context)
    finally:
        with PDFIUM:
            page.close()


# A layout holding less text than this is checked against pypdf's reading of the page.
_THIN_LAYOUT = 400


def indexed_text(
    pdf: pypdfium2.PdfDocument, reader: pypdf.PdfReader, index: int, context: PageContext = PageContext()
) -> tuple[str, PageLayout | None]:
    """What ingestion indexes for page `index` (0-based): its units one a line, normalised,
    and the layout they come from.

    pdfium reads some fonts as placeholders ("xxxxxx"), which leave a page with little more
    than its running header; when pypdf reads more than twice as much text on such a thin
    page, its flat text stands in for the page.
    """
    try:
        layout: PageLayout | None = page_layout(pdf, index, context)
    except pypdfium2.PdfiumError:
        logger.warning("page %s: pdfium cannot lay it out", index + 1, exc_info=True)
        layout = None
    text = normalise_text(layout.text) if layout is not None else ""
    if len(text) < _THIN_LAYOUT:
        fallback = normalise_text(extract_page_text(reader, index))
        if len(fallback) > 2 * len(text):
            text = fallback
    return text, layout
