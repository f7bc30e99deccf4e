"""Ruled tables → rows that carry their column headers and their table's caption.

pdfplumber's table finder (its "lines" strategy: cells from the intersections of ruling
lines) runs on characters and ruling lines read by pypdfium2, which is many times faster
than letting pdfminer parse the page again. Each body row becomes one unit, e.g.
"Table 27: t_sb settings · t_sb[2:0]: 101 · tstandby [ms]: 1000".
"""

import bisect
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pdfplumber.table import TableFinder

from library.parsing.layout import Box, CaptionSides, Char, Edge, Line, TableHead, Unit, build_lines, clean_cell

_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines", "snap_tolerance": 3, "join_tolerance": 3}
_CAPTION = re.compile(r"^(?:Table|TABLE|Tab\.)\s*[\dA-Z][\d.\-]*\b")
_DASH_ONLY = re.compile(r"^[-–—−]+$")


@dataclass(frozen=True)
class Cell:
    box: Box
    text: str


@dataclass(frozen=True)
class FoundTable:
    box: Box
    bands: list[list[Cell]]  # rows top to bottom; a cell spanning rows appears in each of them


class _Page:
    """The page attributes pdfplumber's TableFinder reads with the "lines" strategies: its box
    and its ruling lines (cells' text is read here, not by pdfplumber's Table.extract)."""

    def __init__(self, edges: list[Edge], width: float, height: float) -> None:
        self.bbox = (0.0, 0.0, width, height)
        self.edges = [_edge_dict(edge) for edge in edges]


def _edge_dict(edge: Edge) -> dict[str, Any]:
    box = edge.box
    if edge.orientation == "h":
        middle = (box.top + box.bottom) / 2
        top = bottom = middle
    else:
        top, bottom = box.top, box.bottom
    x0, x1 = (box.x0, box.x1) if edge.orientation == "h" else (((box.x0 + box.x1) / 2,) * 2)
    return {
        "x0": x0,
        "x1": x1,
        "top": top,
        "bottom": bottom,
        "width": x1 - x0,
        "height": bottom - top,
        "orientation": edge.orientation,
        "object_type": "line",
    }


def find_tables(chars: list[Char], edges: list[Edge], width: float, height: float) -> list[FoundTable]:
    """Ruled tables of at least two rows and two columns, as rows of cells with their text."""
    if sum(1 for e in edges if e.orientation == "h") < 3 or sum(1 for e in edges if e.orientation == "v") < 2:
        return []
    page = _Page([*edges, *_open_sides(edges)], width, height)
    found = []
    for table in TableFinder(page, _SETTINGS).tables:  # type: ignore[arg-type]
        cells = _outer_cells([Box(*bbox) for bbox in table.cells])
        if len(cells) < 4:
            continue
        inside = _within(Box(*table.bbox), chars)
        cells = _join_cut_words(cells, inside)
        bands, filled = _bands(cells, inside)
        if len(bands) < 2 or max(len(band) for band in bands) < 2:
            continue
        if filled < 0.4 * len(cells):
            continue  # a chart's grid, not a table
        found.append(FoundTable(Box(*table.bbox), bands))
    return found


def _open_sides(edges: list[Edge]) -> list[Edge]:
    """The sides of tables ruled across but left open at their ends (ADI's style: full-width
    rules between sections, column rules inside only), drawn in: without them the table found
    is its inner columns only, and the parameter and unit columns are lost to it."""
    rules = _full_rules(edges)
    verticals = [edge.box for edge in edges if edge.orientation == "v"]
    groups: list[list[Box]] = []
    for rule in sorted(rules, key=lambda rule: (rule.x0, rule.x1)):
        group = next((g for g in groups if abs(g[0].x0 - rule.x0) <= 2 and abs(g[0].x1 - rule.x1) <= 2), None)
        if group is None:
            groups.append([rule])
        else:
            group.append(rule)
    sides: list[Edge] = []
    for group in (group for group in groups if len(group) >= 3):
        x0, x1 = min(rule.x0 for rule in group), max(rule.x1 for rule in group)
        top, bottom = min(rule.top for rule in group), max(rule.bottom for rule in group)
        near = [v for v in verticals if x0 - 3 < v.x0 < x1 + 3 and v.bottom > top and v.top < bottom]
        for run in (run for run in _one_table_runs(group, near) if len(run) >= 3):
            ends = (min(rule.x0 for rule in run), max(rule.x1 for rule in run))
            for upper, lower in itertools.pairwise(run):
                for x in ends:
                    if not _ruled_at(x, upper.top, lower.bottom, near):
                        sides.append(Edge("v", Box(x - 0.25, upper.top, x + 0.25, lower.bottom)))
    return sides


def _one_table_runs(rules: list[Box], verticals: list[Box]) -> list[list[Box]]:
    """Rules of one width, top to bottom, in runs that column rules join into one table."""
    runs: list[list[Box]] = []
    for rule in sorted(rules, key=lambda rule: rule.top):
        if runs and _ruled_between(runs[-1][-1], rule, verticals):
            runs[-1].append(rule)
        else:
            runs.append([rule])
    return runs


def _full_rules(edges: list[Edge]) -> list[Box]:
    """The horizontal rules, a rule drawn as touching segments made one."""
    pieces = sorted((edge.box for edge in edges if edge.orientation == "h"), key=lambda box: (box.top, box.x0))
    rules: list[Box] = []
    for piece in pieces:
        last = rules[-1] if rules else None
        if last is not None and abs(piece.top - last.top) <= 0.6 and piece.x0 <= last.x1 + 1.5:
            rules[-1] = last.union(piece)
        else:
            rules.append(piece)
    return rules


def _ruled_at(x: float, top: float, bottom: float, verticals: list[Box]) -> bool:
    """Whether a vertical rule at `x` runs from `top` to `bottom` (a side already drawn)."""
    return any(abs(v.x0 - x) <= 2 and v.top <= top + 2 and v.bottom >= bottom - 2 for v in verticals)


def _ruled_between(upper: Box, lower: Box, verticals: list[Box]) -> bool:
    """Whether a column rule inside the two rules' span runs (nearly) all the way from one to the
    other: they rule one table, not two tables or a table and the page's header."""
    gap = lower.top - upper.bottom
    if gap <= 0:
        return False
    spans: dict[int, list[tuple[float, float]]] = {}
    for v in verticals:
        if upper.x0 + 5 < v.x0 < upper.x1 - 5:
            top, bottom = max(v.top, upper.bottom), min(v.bottom, lower.top)
            if bottom > top:
                spans.setdefault(round(v.x0), []).append((top, bottom))
    return any(_covered(pieces) >= 0.8 * gap for pieces in spans.values())


def _covered(spans: list[tuple[float, float]]) -> float:
    """The length the union of the spans covers (a rule drawn twice counts once)."""
    length, reach = 0.0, float("-inf")
    for top, bottom in sorted(spans):
        if bottom > reach:
            length += bottom - max(top, reach)
            reach = bottom
    return length


def _within(box: Box, chars: list[Char]) -> list[Char]:
    """The characters whose middle lies in `box` (each cell then searches these, not the page)."""
    return [
        c for c in chars if box.contains_point((c.box.x0 + c.box.x1) / 2, (c.box.top + c.box.bottom) / 2, margin=1.0)
    ]


def _outer_cells(boxes: list[Box]) -> list[Box]:
    """Cells without the slivers and nested cells that double-ruled borders make."""
    solid = [box for box in boxes if box.width >= 7 and box.height >= 5]
    return [box for box in solid if not any(other is not box and _contains(other, box) for other in solid)]


def _join_cut_words(cells: list[Box], chars: list[Char]) -> list[Box]:
    """Cells side by side whose shared border runs through a word ("PARAME | TER", "0.228-0. |
    244") made one: a rule hidden under a header's shading, or one the text runs over, is no
    column border there."""
    joints = _word_joints(chars)
    if not joints:
        return cells
    xs = [x for x, _, _ in joints]

    def cuts_word(left: Box, right: Box) -> bool:
        border = (left.x1 + right.x0) / 2
        nearby = joints[
            bisect.bisect_left(xs, border - _MAX_JOINT_REACH) : bisect.bisect_right(xs, border + _MAX_JOINT_REACH)
        ]
        return any(lo < border < hi and left.top <= y <= left.bottom for _, (lo, hi), y in nearby)

    rows: dict[tuple[int, int], list[Box]] = {}
    for box in cells:
        rows.setdefault((round(box.top), round(box.bottom)), []).append(box)
    out: list[Box] = []
    for row in rows.values():
        row.sort(key=lambda box: box.x0)
        current = row[0]
        for box in row[1:]:
            if abs(box.x0 - current.x1) <= 1.5 and cuts_word(current, box):
                current = current.union(box)
            else:
                out.append(current)
                current = box
        out.append(current)
    return out


# How far from a border the middle of a joint's two characters may lie (half a wide glyph).
_MAX_JOINT_REACH = 6.0


def _word_joints(chars: list[Char]) -> list[tuple[float, tuple[float, float], float]]:
    """Where two characters of one word meet: (x of the joint, the two characters' middles,
    the height of their middle), sorted by x. Neighbours in the page's order on one line, with
    no gap between them."""
    joints = []
    for previous, char in itertools.pairwise(chars):
        if previous.text.isspace() or char.text.isspace() or not (previous.text.isalnum() or char.text.isalnum()):
            continue
        a, b = previous.box, char.box
        gap = b.x0 - a.x1  # a little overlap is kerning
        if abs(a.top - b.top) > 0.5 * a.height or not -0.5 <= gap < 0.25 * a.height:
            continue
        middles = ((a.x0 + a.x1) / 2, (b.x0 + b.x1) / 2)
        joints.append(((a.x1 + b.x0) / 2, middles, (a.top + a.bottom) / 2))
    joints.sort()
    return joints


def _contains(outer: Box, inner: Box) -> bool:
    return (
        outer.x0 - 0.5 <= inner.x0
        and inner.x1 <= outer.x1 + 0.5
        and outer.top - 0.5 <= inner.top
        and inner.bottom <= outer.bottom + 0.5
        and (outer.width > inner.width + 1 or outer.height > inner.height + 1)
    )


def _bands(cells: list[Box], chars: list[Char]) -> tuple[list[list[Cell]], int]:
    """For each horizontal band between two cell tops, the cells covering it, left to right;
    and how many of `cells` hold text.

    A cell spanning several rows covers each of their bands, so it is part of each row.
    """
    by_height = _CharsByHeight(chars)
    lines_of = {cell: _cell_lines(cell, by_height) for cell in cells}
    filled = sum(1 for cell in cells if any(line.text.strip() for line in lines_of[cell]))
    borders = sorted({x for cell in cells for x in (cell.x0, cell.x1)})
    implied = _header_word_borders(cells, lines_of)
    tops: list[float] = []
    for top in sorted(cell.top for cell in cells):
        if not tops or top - tops[-1] > 1.0:
            tops.append(top)
    bottom = max(cell.bottom for cell in cells)
    bands: list[list[Cell]] = []
    seen: set[tuple[Box, ...]] = set()
    for top, below in zip(tops, [*tops[1:], bottom], strict=True):
        middle = (top + below) / 2
        covering = sorted((cell for cell in cells if cell.top <= middle <= cell.bottom), key=lambda c: c.x0)
        key = tuple(covering)
        if not covering or key in seen:
            continue
        seen.add(key)
        pieces = [piece for cell in covering for piece in _side_by_side(cell, lines_of[cell], borders, implied)]
        bands.extend(_split_stacked(pieces))
    return bands, filled


# Values side by side in one cell are split under their columns only when each is this short.
_SHORT_VALUE = 16


def _header_word_borders(cells: list[Box], lines_of: dict[Box, list[Line]]) -> list[float]:
    """Column borders the header row implies without ruling them: a header cell holding short
    words side by side ("Min   Typ   Max") heads one column per word, apart halfway between them."""
    top = min(cell.top for cell in cells)
    borders = []
    for cell in cells:
        lines = sorted(lines_of[cell], key=lambda line: line.box.x0)
        if cell.top > top + 1 or len(lines) < 2:
            continue
        if any(len(line.text) > _SHORT_VALUE or _NUMERIC.match(line.text) for line in lines):
            continue
        if all(_same_height(lines[0], line) for line in lines):
            borders += [(left.box.x1 + right.box.x0) / 2 for left, right in itertools.pairwise(lines)]
    return borders


def _side_by_side(
    cell: Box, lines: list[Line], borders: list[float], implied: list[float]
) -> list[tuple[Box, list[Line]]]:
    """A cell holding several short values side by side, each under a column the rows above
    rule apart (TYP and MAX under a part name, with no rule between them in the body), as one
    cell per column: "TYP: 1 · MAX: 2", not "MIN TYP MAX: 1 2". A single value stays whole,
    even when it sits under several ruled columns (a rating given once for MIN and MAX); under
    columns the header's words imply (`_header_word_borders`), it goes under its own."""
    unruled = [x for x in implied if cell.x0 + 2 < x < cell.x1 - 2]
    inner = sorted({x for x in borders if cell.x0 + 2 < x < cell.x1 - 2} | set(unruled))
    if not inner or not lines or any(len(line.text) > _SHORT_VALUE for line in lines):
        return [(cell, lines)]
    if len(lines) < 2 and not unruled:
        return [(cell, lines)]
    edges = [cell.x0, *inner, cell.x1]
    column_of: dict[int, int] = {}
    for index, line in enumerate(lines):
        column = next(
            (i for i in range(len(edges) - 1) if edges[i] - 1 <= line.box.x0 and line.box.x1 <= edges[i + 1] + 1), None
        )
        if column is None:
            return [(cell, lines)]  # text across a column's border: one value
        column_of[index] = column
    beside = any(
        column_of[i] != column_of[j] and _same_height(a, b)
        for (i, a), (j, b) in itertools.combinations(enumerate(lines), 2)
    )
    if not beside and not unruled:
        return [(cell, lines)]
    return [
        (
            Box(edges[i], cell.top, edges[i + 1], cell.bottom),
            [line for k, line in enumerate(lines) if column_of[k] == i],
        )
        for i in range(len(edges) - 1)
    ]


def _split_stacked(band: list[tuple[Box, list[Line]]]) -> list[list[Cell]]:
    """A row whose cells stack several values line by line, with no rule between them (a
    column of rates beside a column of currents), is that many rows: line i of each such
    cell together. Cells holding one line (a shared label) belong to each of them. Cells
    stacking text but no number hold wrapped names, one each."""
    counts = {len(lines) for _, lines in band if len(lines) >= 2}
    stacked = [lines for _, lines in band if len(lines) >= 2]
    aligned = len(counts) == 1 and len(stacked) >= 2 and _lines_align(stacked)
    whole = [[_whole(box, lines) for box, lines in band]]
    if not aligned:
        return (_rows_by_height(band) if len(stacked) >= 2 else None) or whole
    if not any(_NUMERIC.match(line.text) for lines in stacked for line in lines):
        return whole  # names wrapped alike ("DEC_FIFO_ / GYRO2")
    rows = []
    for index in range(counts.pop()):
        row = []
        for box, lines in band:
            if len(lines) >= 2:
                line = lines[index]
                row.append(Cell(Box(box.x0, line.box.top, box.x1, line.box.bottom), clean_cell(line.text)))
            else:
                row.append(_whole(box, lines))
        rows.append(row)
    return rows


def _whole(box: Box, lines: list[Line]) -> Cell:
    return Cell(box, clean_cell(" ".join(line.text for line in lines)))


# Lines at most this share of a line's height apart in height are one row.
_SAME_ROW = 0.6


def _same_height(line: Line, other: Line) -> bool:
    """Whether two lines sit side by side, on one row."""
    return abs(line.box.top - other.box.top) < _SAME_ROW * max(line.box.height, 1.0)


# A band is read as rows by height when at least this share of its rows hold lines of two cells.
_SHARED_ROWS = 0.6


def _rows_by_height(band: list[tuple[Box, list[Line]]]) -> list[list[Cell]] | None:
    """A band whose cells stack different numbers of lines (a section of a table ruled only
    between sections: "SENSITIVITY" over its parameters, a condition wrapped over two lines) as
    one row per height its lines sit at. A first row without a number while later rows have
    some is the section's title: its first cell heads each row's first cell, its other cells
    serve rows that leave that column empty ("Each axis"). A later row without a number
    continues the row above (a wrapped condition). Cells of one line belong to every row.
    None when the lines do not sit in rows across the cells (prose wrapped beside values)."""
    grid = _grid_by_height(band)
    if len(grid) < 2:
        return None
    values = _value_columns(grid)
    numbered = [any(_NUMERIC.match(line.text) for column in values for line in row[column]) for row in grid]
    shared = sum(1 for row in grid if sum(1 for cell in row if cell) >= 2)
    if sum(numbered) < 2 or shared < max(2, _SHARED_ROWS * sum(numbered)):
        return None  # no column of values on several rows: wrapped text, a header, a drawing
    title: list[list[Line]] = [[] for _ in band]
    if len(grid) >= 3 and not numbered[0] and any(numbered[1:]):
        title, grid, numbered = grid[0], grid[1:], numbered[1:]
    merged: list[list[list[Line]]] = []
    for row, has_number in zip(grid, numbered, strict=True):
        if merged and not has_number and any(numbered):
            merged[-1] = [above + below for above, below in zip(merged[-1], row, strict=True)]
        else:
            merged.append(row)
    for above, row in itertools.pairwise(merged):
        if not row[0]:
            row[0] = above[0]  # the parameter of the row above, under another condition
    rows = []
    for row in merged:
        cells = []
        for column, (box, cell_lines) in enumerate(band):
            if len(cell_lines) < 2:
                cells.append(_whole(box, cell_lines))
                continue
            if column == 0:
                own = [*title[0], *row[0]]  # "SENSITIVITY" heads "Sensitivity at XOUT …"
            else:
                own = row[column] or title[column]  # "Each axis" serves the rows that name none
            top = min((line.box.top for line in row[column]), default=box.top)
            bottom = max((line.box.bottom for line in row[column]), default=box.bottom)
            cells.append(_whole(Box(box.x0, top, box.x1, bottom) if row[column] else box, own))
        rows.append(cells)
    return rows


def _grid_by_height(band: list[tuple[Box, list[Line]]]) -> list[list[list[Line]]]:
    """The lines of the band's cells of several lines, row by row (one row per height lines
    start at), column by column."""
    lines = sorted((line for _, cell_lines in band if len(cell_lines) >= 2 for line in cell_lines), key=_top)
    height = sorted(line.box.height for line in lines)[len(lines) // 2]
    starts: list[float] = []
    for line in lines:
        if not starts or line.box.top - starts[-1] > _SAME_ROW * height:
            starts.append(line.box.top)
    grid: list[list[list[Line]]] = [[[] for _ in band] for _ in starts]
    for column, (_, cell_lines) in enumerate(band):
        if len(cell_lines) >= 2:
            for line in cell_lines:
                grid[bisect.bisect_right(starts, line.box.top + 0.3 * height) - 1][column].append(line)
    return grid


_NUMERIC = re.compile(r"^[<>≤≥±+\-−–~]?\s?\d")


def _value_columns(grid: list[list[list[Line]]]) -> list[int]:
    """The columns most of whose lines in the band are numbers (Min, Typ, Max), not labels,
    conditions or units. The first column names the row ("±2 g Range"), whatever it holds."""
    columns = []
    for column in range(1, len(grid[0])):
        texts = [line.text for row in grid for line in row[column]]
        if texts and sum(1 for text in texts if _NUMERIC.match(text)) >= 0.5 * len(texts):
            columns.append(column)
    return columns


def _top(line: Line) -> float:
    return line.box.top


def _lines_align(stacked: list[list[Line]]) -> bool:
    """Line i of every stacked cell sits at the same height: values side by side, not wrapped prose."""
    first = stacked[0]
    return all(_same_height(line, other) for lines in stacked[1:] for line, other in zip(first, lines, strict=True))


class _CharsByHeight:
    """A table's characters (newlines aside) sorted by the height of their middles, so a cell
    finds its own among the few in its band instead of among all of the table's."""

    def __init__(self, chars: list[Char]) -> None:
        middles = sorted(
            ((char.box.top + char.box.bottom) / 2, index) for index, char in enumerate(chars) if char.text != "\n"
        )
        self.chars = chars
        self.heights = [height for height, _ in middles]
        self.indices = [index for _, index in middles]

    def inside(self, cell: Box) -> list[Char]:
        """The characters whose middle lies in `cell`, in the page's order."""
        start = bisect.bisect_left(self.heights, cell.top)
        end = bisect.bisect_right(self.heights, cell.bottom)
        found = []
        for index in sorted(self.indices[start:end]):
            char = self.chars[index]
            if cell.x0 <= (char.box.x0 + char.box.x1) / 2 <= cell.x1:
                found.append(char)
        return found


def _cell_lines(cell: Box, chars: _CharsByHeight) -> list[Line]:
    lines = build_lines(chars.inside(cell))
    lines.sort(key=lambda line: (round(line.box.top), line.box.x0))
    return lines


# A caption is looked for this near a table on the side the document writes captions on, and
# this near on the other side.
_CAPTION_NEAR = 60
_CAPTION_OTHER_SIDE = 30


def captioned_below(pages: Iterable[CaptionSides]) -> bool:
    """Whether a document writes its table captions below the tables: more of its tables have
    a caption only below than only above. Most datasheets caption above (the default); some
    vendors below, and there the caption between two tables belongs to the one above it."""
    pages = list(pages)
    return sum(page.below for page in pages) > sum(page.above for page in pages)


def _caption_gap(table: FoundTable, line: Line, side: str, within: float) -> float | None:
    """How far the caption `line` is from `table` on `side`, when it is within `within` and
    over or under the table (not over the table beside it, in the other column)."""
    if line.box.x1 <= table.box.x0 or line.box.x0 >= table.box.x1:
        return None
    if side == "above" and line.box.bottom <= table.box.top + 2:
        gap = table.box.top - line.box.bottom
    elif side == "below" and line.box.top >= table.box.bottom - 2:
        gap = line.box.top - table.box.bottom
    else:
        return None
    return gap if gap < within else None


def _assign_captions(tables: list[FoundTable], captions: list[Line], *, below_first: bool) -> list[str]:
    """Each table's caption ("" for none): the nearest of the page's "Table N…" lines on the
    document's side, else the nearest close one on the other side; a caption names one table only."""
    chosen: list[str | None] = [None] * len(tables)
    taken: set[int] = set()
    first, other = ("below", "above") if below_first else ("above", "below")
    for side, within in ((first, _CAPTION_NEAR), (other, _CAPTION_OTHER_SIDE)):
        candidates = sorted(
            (gap, t, c)
            for t, table in enumerate(tables)
            if chosen[t] is None
            for c, line in enumerate(captions)
            if c not in taken and (gap := _caption_gap(table, line, side, within)) is not None
        )
        for _gap, t, c in candidates:
            if chosen[t] is None and c not in taken:
                chosen[t] = captions[c].text
                taken.add(c)
    return [caption or "" for caption in chosen]


def _caption_sides(tables: list[FoundTable], captions: list[Line], *, side_matters: bool) -> CaptionSides:
    """The page's `CaptionSides`, counted with the windows of a document that captions above."""
    above = below = 0
    for table in tables:
        has_above = any(_caption_gap(table, line, "above", _CAPTION_NEAR) is not None for line in captions)
        has_below = any(_caption_gap(table, line, "below", _CAPTION_OTHER_SIDE) is not None for line in captions)
        above += has_above and not has_below
        below += has_below and not has_above
    return CaptionSides(above=above, below=below, side_matters=side_matters)


def row_units(table: FoundTable, caption: str, running_on: TableHead | None = None) -> tuple[list[Unit], TableHead]:
    """One unit per body row: "caption · header: value · …"; a row that only wraps a cell is
    joined. A table `running_on` from one on the page before has no header of its own: its
    rows take that table's caption and headers. Also returns the table's head, for the next page."""
    caption, headers, bands = _head_and_body(table, caption, running_on)
    head = TableHead(
        caption=caption,
        headers=tuple(tuple((cell.box, cell.text) for cell in band) for band in headers),
        columns=_column_starts(table),
    )
    rows: list[list[Cell]] = []
    for band in bands:
        own = [cell for cell in band if rows and cell not in rows[-1]]
        if rows and len(own) == 1 and len(band) == len(rows[-1]) and own[0].text:
            # The same cells as the row above but one: that one continues the text above it.
            previous = rows[-1]
            at = next(i for i, cell in enumerate(band) if cell is own[0])
            joined = Cell(previous[at].box.union(own[0].box), f"{previous[at].text} {own[0].text}".strip())
            rows[-1] = [*previous[:at], joined, *previous[at + 1 :]]
        else:
            rows.append(band)
    units: list[Unit] = []
    first, merged = "", False  # the first column's last text; whether it runs down the rows
    for row in rows:
        named = [(_header_over(cell, headers), cell.text) for cell in row]
        if named and any(_NUMBER.match(value) for _, value in named[1:]):
            # "Output Voltage" over "(Note 2)" and the empty cells of the next fixed versions:
            # the parameter cell is merged down, and they are rows of it. (An empty cell alone
            # is not enough: a merged cell's text may sit in its lower row.)
            merged = bool(first) and (_NOTE_MARK.match(named[0][1]) is not None or (merged and not named[0][1]))
            if merged:
                named[0] = (named[0][0], first)
            else:
                first = named[0][1]
        unit = next((value for header, value in named if _UNIT_HEADER.match(header) and value), "")
        unit = " ".join(dict.fromkeys(unit.split()))  # a unit set twice over the row's lines ("μA μA")
        if not any(_NUMBER.match(value) for header, value in named if not _UNIT_HEADER.match(header)):
            unit = ""  # no value to write it onto: the unit column stays a cell of its own
        parts = []
        for header, value in named:
            if not value or _DASH_ONLY.match(value) or (unit and _UNIT_HEADER.match(header)):
                continue
            if unit and _NUMBER.match(value):
                value = f"{value} {unit}"  # "Max: 2 ms", not "Max: 2 · Unit: ms"
            parts.append(f"{header}: {value}" if header and header != value else value)
        if not parts:
            continue
        text = " · ".join([caption, *parts] if caption else parts)
        if units and units[-1].text == text:
            continue  # a band repeating the row above (a cell split by a stray rule)
        box = row[0].box
        for cell in row[1:]:
            box = box.union(cell.box)
        units.append(Unit("row", text, box))
    return units, head


def _head_and_body(
    table: FoundTable, caption: str, running_on: TableHead | None
) -> tuple[str, list[list[Cell]], list[list[Cell]]]:
    """The table's caption (with a title row across the whole table), its header rows and its
    body rows; a table running on from the page before has its start's caption and headers."""
    bands = list(table.bands)
    if running_on is not None:
        return running_on.caption, [[Cell(box, text) for box, text in band] for band in running_on.headers], bands
    while len(bands) > 2 and len(bands[0]) == 1 and bands[0][0].box.width >= 0.9 * table.box.width:
        title = bands.pop(0)[0].text
        caption = f"{caption} {title}".strip() if title not in caption else caption
    headers = bands[: _header_rows(bands)]
    return caption, headers, bands[len(headers) :]


# Column borders a page apart are the same within this (points): the same table, set again.
_SAME_COLUMN = 8.0


def _column_starts(table: FoundTable) -> tuple[float, ...]:
    return tuple(sorted({round(cell.box.x0, 1) for band in table.bands for cell in band}))


def runs_on(table: FoundTable, before: TableHead | None) -> bool:
    """Whether `table`, the first on its page and without a caption, continues the last table of
    the page before (`before`) without setting its header again: the same columns, and a first
    row that holds values where a header would name them (BME280's specification tables)."""
    if before is None or not before.headers:
        return False
    columns = _column_starts(table)
    if len(columns) != len(before.columns):
        return False
    if any(abs(x - y) > _SAME_COLUMN for x, y in zip(columns, before.columns, strict=True)):
        return False
    return any(_NUMBER.match(cell.text) for cell in table.bands[0])


_UNIT_HEADER = re.compile(r"^units?\b", re.IGNORECASE)
# A cell holding only a reference to a note: "(Note 2)", "(1)".
_NOTE_MARK = re.compile(r"^(?:\((?:notes?\s*)?\d+(?:\s*,\s*\d+)*\)|notes?\s*\d+)$", re.IGNORECASE)
# A number, or a range of two ("-40 to +125", "4.5 ~ 5.5").
_NUMBER = re.compile(r"^[±+\-−–]?\d+(?:[.,]\d+)?(?:\s*(?:to|~|…)\s*[±+\-−–]?\d+(?:[.,]\d+)?)?$")


def _header_rows(bands: list[list[Cell]]) -> int:
    """How many of the first bands are the header: 0 when the first already says something (a
    register's "bit | description" table has none: its first row is a bit); all that a header
    cell spans, its words set in the middle of a tall header (`_header_goes_on`); else 1, or 2
    when the second row subdivides the first (MIN / TYP / MAX under a part name)."""
    if bands and any(_SENTENCE.search(cell.text) and len(cell.text.split()) >= 5 for cell in bands[0]):
        return 0
    spanned = 1
    while spanned < min(len(bands) - 1, _MOST_HEADER_ROWS) and _header_goes_on(bands[spanned - 1], bands[spanned]):
        spanned += 1
    if spanned > 1:
        return spanned
    if len(bands) < 3:
        return 1
    first, second = bands[0], bands[1]
    subdivides = len(second) > len(first) and all(_looks_like_header(cell.text) for cell in second if cell not in first)
    return 2 if subdivides else 1


# A sentence ends in a cell: a word (not an abbreviation such as "Typ.", nor "Figure 1.") and a
# full stop, then the cell's end or the next sentence.
_SENTENCE = re.compile(r"(?:\w{3}|\))\.(?:\s+[A-Z(]|$)")


# A header is set over at most this many bands.
_MOST_HEADER_ROWS = 4


def _header_goes_on(above: list[Cell], band: list[Cell]) -> bool:
    """Whether `band` is more of the header row `above`: a header cell spans both (its words
    are set in the middle of a tall header), and the band's own cells name columns rather than
    hold a number or a code (SHT3x's "I2C Address in Hex." over "representation", beside
    "SHT3x-DIS" and "Condition"; "TYP" and "MAX" under "LM358"; "±6.144 V" under "FSR")."""
    spanning = {cell.box for cell in above} & {cell.box for cell in band}
    own = [cell for cell in band if cell.box not in spanning and cell.text]
    return bool(spanning) and not any(
        _NUMBER.match(cell.text) or _CODE.fullmatch(cell.text) or len(cell.text) > 40 for cell in own
    )


# A code as tables write one: "0x44", "EFh", "4018h".
_CODE = re.compile(r"0x[0-9A-Fa-f]+|[0-9A-F]+h")


def _looks_like_header(text: str) -> bool:
    return len(text) <= 12 and not re.search(r"\d{2}", text)


def _header_over(cell: Cell, header_bands: list[list[Cell]]) -> str:
    """The header cells above `cell` (overlapping most of its width), outer to inner."""
    names: list[str] = []
    for band in header_bands:
        for header in band:
            if header is cell or not header.text:
                continue
            overlap = min(header.box.x1, cell.box.x1) - max(header.box.x0, cell.box.x0)
            if overlap >= 0.5 * min(header.box.width, cell.box.width) and header.text not in names:
                names.append(header.text)
    return " ".join(names)


def page_tables(
    chars: list[Char],
    edges: list[Edge],
    lines: list[Line],
    width: float,
    height: float,
    *,
    captions_below: bool = False,
) -> tuple[list[tuple[FoundTable, str]], CaptionSides]:
    """Every ruled table on the page with its caption ("" when it has none), and which side the
    page writes its captions on."""
    tables = find_tables(chars, edges, width, height)
    caption_lines = [line for line in lines if _CAPTION.match(line.text)]
    captions = _assign_captions(tables, caption_lines, below_first=captions_below)
    otherwise = _assign_captions(tables, caption_lines, below_first=not captions_below)
    sides = _caption_sides(tables, caption_lines, side_matters=captions != otherwise)
    return list(zip(tables, captions, strict=True)), sides
