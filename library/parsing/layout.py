"""A page's layout from its characters' boxes (pypdfium2): lines, blocks, reading order, tables.

Coordinates are PDF points with the origin at the page's top-left corner (y grows downwards),
as in pdfplumber, whose table finder `library.parsing.tables` reuses.

The page comes out as units in reading order, each with its box: a heading, a paragraph
(a block of lines), a table row rendered with its column headers and its table's caption, or
a figure's text (axis labels, equations) that is kept for the page view but never quoted.
"""

import bisect
import ctypes
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import pypdfium2
import pypdfium2.raw as pdfium_c

from library.parsing.glyphs import normalise_glyphs

UnitKind = Literal["heading", "paragraph", "item", "row", "figure"]


@dataclass(frozen=True)
class Box:
    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def union(self, other: "Box") -> "Box":
        return Box(
            min(self.x0, other.x0), min(self.top, other.top), max(self.x1, other.x1), max(self.bottom, other.bottom)
        )

    def contains_point(self, x: float, y: float, *, margin: float = 0.0) -> bool:
        return self.x0 - margin <= x <= self.x1 + margin and self.top - margin <= y <= self.bottom + margin


@dataclass(frozen=True)
class Char:
    text: str
    box: Box
    size: float  # font size in points
    bold: bool


@dataclass(frozen=True)
class Edge:
    """A ruling line: horizontal (`h`) or vertical (`v`)."""

    orientation: Literal["h", "v"]
    box: Box


@dataclass
class Line:
    chars: list[Char]
    text: str = ""
    box: Box = field(default_factory=lambda: Box(0, 0, 0, 0))
    rating: bool = False  # "label . . . . value": one entry of a ratings list

    @cached_property
    def size(self) -> float:
        sizes = sorted(char.size for char in self.chars if not char.text.isspace())
        return sizes[len(sizes) // 2] if sizes else 0.0

    @cached_property
    def bold(self) -> bool:
        visible = [char for char in self.chars if not char.text.isspace()]
        return bool(visible) and sum(char.bold for char in visible) >= 0.8 * len(visible)


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    text: str
    box: Box


@dataclass(frozen=True)
class CaptionSides:
    """Which side of its tables a page writes their "Table N" captions on: how many tables
    have a caption line just above and none below, how many the reverse, and whether the
    side the document uses changes which table a caption names (a caption between two tables)."""

    above: int = 0
    below: int = 0
    side_matters: bool = False


@dataclass(frozen=True)
class TableHead:
    """What a table that runs on over a page break needs of its start on the page before: its
    caption, its header rows (each cell's box and text) and where its columns start."""

    caption: str
    headers: tuple[tuple[tuple[Box, str], ...], ...]
    columns: tuple[float, ...]


@dataclass(frozen=True)
class PageLayout:
    number: int  # 1-based
    width: float
    height: float
    units: list[Unit]
    title: str = ""  # its largest type; on a first page, what the document is (`title_of`)
    captions: CaptionSides = field(default_factory=CaptionSides)  # see `tables.page_tables`
    last_table: TableHead | None = None  # the lowest table's head, for one running on over the break

    @property
    def text(self) -> str:
        """The page's text in reading order, one unit a line (figure text left out)."""
        return "\n".join(unit.text for unit in self.units if unit.kind != "figure")


# --- characters and ruling lines -------------------------------------------------------------


def text_layer_chars(page: pypdfium2.PdfPage) -> list[Char]:
    """`page_chars` of the page's own text layer (the caller holds pdfium's lock)."""
    _width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        return page_chars(textpage, height)
    finally:
        textpage.close()


def page_chars(textpage: pypdfium2.PdfTextPage, page_height: float) -> list[Char]:
    """Every character in pdfium's order with its loose box (the font's full height), top-down.

    pdfium's own spaces (real or generated between words) are kept; a line break becomes a
    newline character. A glyph drawn twice on itself (fake bold) is kept once.
    """
    chars: list[Char] = []
    rect = pdfium_c.FS_RECTF()
    seen: set[tuple[str, int, int]] = set()
    raw = textpage.raw
    address = ctypes.cast(raw, ctypes.c_void_p).value
    rect_address = ctypes.addressof(rect)
    styles = _TextObjectStyles(raw)
    for index in range(pdfium_c.FPDFText_CountChars(raw)):
        code = _get_unicode(address, index)
        if code in (0, 0x02, 0xFFFE, 0xFFFF):  # no glyph, or pdfium's soft-hyphen marker
            continue
        if 0xD800 <= code <= 0xDFFF:  # half of a UTF-16 surrogate pair: no character of ours
            continue
        text = chr(code)
        if text in "\r\n":
            if chars and chars[-1].text != "\n":
                chars.append(Char("\n", chars[-1].box, chars[-1].size, False))
            continue
        turned, bold = styles.of(index)
        if turned:
            continue  # turned text: a chart's axis title, a vertical margin note
        if not _get_loose_char_box(address, index, rect_address):
            continue
        box = Box(rect.left, page_height - rect.top, rect.right, page_height - rect.bottom)
        if text.isspace():
            if chars and not chars[-1].text.isspace():
                chars.append(Char(" ", box, chars[-1].size, chars[-1].bold))
            continue
        key = (text, round(box.x0 * 2), round(box.top * 2))
        if key in seen:  # the same glyph at the same place: drawn twice to look bold
            continue
        seen.add(key)
        chars.append(Char(text, box, box.height, bold))
    return chars


def _by_address(function: object, restype: object, *argtypes: object) -> Callable[..., int]:
    """A pdfium function taking its pointers as plain addresses: the bindings' typed pointer
    arguments cost a type check per call, which per character is most of reading a page."""
    prototype = ctypes.CFUNCTYPE(restype, *argtypes)  # type: ignore[arg-type]
    return prototype(ctypes.cast(function, ctypes.c_void_p).value)  # type: ignore[arg-type]


_get_unicode = _by_address(pdfium_c.FPDFText_GetUnicode, ctypes.c_uint, ctypes.c_void_p, ctypes.c_int)
_get_loose_char_box = _by_address(
    pdfium_c.FPDFText_GetLooseCharBox, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
)
# The object's address, a key to cache by.
_text_object_address = _by_address(pdfium_c.FPDFText_GetTextObject, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)


class _TextObjectStyles:
    """Whether a character is turned and bold. Both come from the text object that draws it
    (its matrix, its font), so they are asked of pdfium once per object, not per character;
    a character pdfium generated (no object) is asked on its own."""

    def __init__(self, raw: pdfium_c.FPDF_TEXTPAGE) -> None:
        self.raw = raw
        self.address = ctypes.cast(raw, ctypes.c_void_p).value
        self.font_name = ctypes.create_string_buffer(96)
        self.known: dict[int, tuple[bool, bool]] = {}

    def of(self, index: int) -> tuple[bool, bool]:
        text_object = _text_object_address(self.address, index)
        style = self.known.get(text_object) if text_object else None
        if style is None:
            angle = pdfium_c.FPDFText_GetCharAngle(self.raw, index)
            style = (0.05 < angle < 2 * math.pi - 0.05, _is_bold(self.raw, index, self.font_name))
            if text_object:
                self.known[text_object] = style
        return style


def _is_bold(raw: pdfium_c.FPDF_TEXTPAGE, index: int, buffer: "ctypes.Array[ctypes.c_char]") -> bool:
    """A heavy weight, or a font whose name says Bold (many fonts declare no weight)."""
    if pdfium_c.FPDFText_GetFontWeight(raw, index) >= 600:
        return True
    flags = ctypes.c_int()
    size = pdfium_c.FPDFText_GetFontInfo(raw, index, buffer, len(buffer), ctypes.byref(flags))
    name = buffer.raw[: max(0, min(size, len(buffer)) - 1)].lower()
    return b"bold" in name or b"black" in name or b"heavy" in name


def page_edges(page: pypdfium2.PdfPage, page_height: float) -> list[Edge]:
    """Axis-aligned ruling lines: thin filled rectangles and straight path segments."""
    edges: list[Edge] = []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=4):
        x0, y0, x1, y1 = obj.get_bounds()
        width, height = x1 - x0, y1 - y0
        if width < 2.0 and height >= 3.0:
            edges.append(Edge("v", Box(x0, page_height - y1, x1, page_height - y0)))
            continue
        if height < 2.0 and width >= 3.0:
            edges.append(Edge("h", Box(x0, page_height - y1, x1, page_height - y0)))
            continue
        if width < 3.0 or height < 3.0 or obj.level > 0:
            continue
        edges.extend(_segment_edges(obj, page_height))
    return edges


def _segment_edges(obj: pypdfium2.PdfObject, page_height: float) -> Iterator[Edge]:
    """Straight horizontal and vertical segments of a path (a rectangle gives four)."""
    matrix = obj.get_matrix()
    count = pdfium_c.FPDFPath_CountSegments(obj.raw)
    if count <= 1 or count > 400:
        return
    x, y = ctypes.c_float(), ctypes.c_float()
    points: list[tuple[float, float]] = []
    start: tuple[float, float] | None = None
    previous: tuple[float, float] | None = None
    for index in range(count):
        segment = pdfium_c.FPDFPath_GetPathSegment(obj.raw, index)
        if not pdfium_c.FPDFPathSegment_GetPoint(segment, ctypes.byref(x), ctypes.byref(y)):
            continue
        point = (matrix.a * x.value + matrix.c * y.value + matrix.e, matrix.b * x.value + matrix.d * y.value + matrix.f)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO or previous is None:
            start = point
        elif kind == pdfium_c.FPDF_SEGMENT_LINETO:
            points.append(previous)
            points.append(point)
        previous = point
        if pdfium_c.FPDFPathSegment_GetClose(segment) and start is not None and start != point:
            points.append(point)
            points.append(start)
    for (ax, ay), (bx, by) in zip(points[::2], points[1::2], strict=True):
        if abs(ay - by) < 1.0 and abs(ax - bx) >= 3.0:
            yield Edge("h", Box(min(ax, bx), page_height - ay, max(ax, bx), page_height - ay))
        elif abs(ax - bx) < 1.0 and abs(ay - by) >= 3.0:
            yield Edge("v", Box(ax, page_height - max(ay, by), ax, page_height - min(ay, by)))


# --- lines -----------------------------------------------------------------------------------


def build_lines(chars: list[Char]) -> list[Line]:
    """Pieces of text on one baseline, in pdfium's order, cut at line ends and at wide gaps.

    A wide gap (a column gutter or a table cell boundary) ends a line, so two columns side
    by side never merge into one line. pdfium's own line breaks count only where the next
    character really starts another line (it also breaks before a superscript, as in I²C).
    """
    lines: list[Line] = []
    current: list[Char] = []
    previous: Char | None = None  # the current line's last visible character
    pending_break = False
    for char in chars:
        if char.text == "\n":
            pending_break = True
            continue
        if previous is not None and not char.text.isspace():
            # Starting left of the last glyph's middle: a new line (or text drawn over it).
            backwards = char.box.x0 < previous.box.x0 + 0.5 * previous.box.width
            if _breaks_line(previous, char) or (pending_break and backwards):
                lines.append(_finish_line(current))
                current, previous = [], None
            pending_break = False
        if char.text.isspace() and not current:
            continue
        current.append(char)
        if not char.text.isspace():
            previous = char
    if current:
        lines.append(_finish_line(current))
    return _rejoin_split_lines([line for line in lines if line.text])


# Pieces of one line drawn apart in the stream (a cross-reference's link text, "Figure 8", drawn
# after the sentence around it) are one line when they sit a word space apart on one baseline.
_WORD_SPACE = 0.6  # of the font size


def _rejoin_split_lines(lines: list[Line]) -> list[Line]:
    """The lines with pieces of one line that the stream drew apart joined, in x order, where the
    first of them was drawn: "as shown in" + "Figure 8" + ". The" read "as shown in Figure 8. The"."""
    near = _lines_near(lines)
    parent = list(range(len(lines)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, line in enumerate(lines):
        for j in near(line.box):
            if j != i and _continues_on_baseline(line, lines[j]):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(lines)):
        groups.setdefault(root(i), []).append(i)
    first_of = {group[0]: group for group in groups.values()}  # indices ascend: group[0] drew first
    out = []
    for i, line in enumerate(lines):
        group = first_of.get(i)
        if group is not None:
            pieces = sorted((lines[j] for j in group), key=lambda piece: piece.box.x0)
            out.append(line if len(group) == 1 else _joined(pieces))
    return out


def _lines_near(lines: list[Line]) -> Callable[[Box], list[int]]:
    """A lookup of the lines that may share a box's baseline (their top between the box's top
    less its height and its bottom), as indices into `lines`."""
    order = sorted(range(len(lines)), key=lambda i: lines[i].box.top)
    tops = [lines[i].box.top for i in order]

    def near(box: Box) -> list[int]:
        return order[bisect.bisect_left(tops, box.top - box.height) : bisect.bisect_right(tops, box.bottom)]

    return near


def _continues_on_baseline(line: Line, other: Line) -> bool:
    """Whether `other` goes on right after `line`, or `line` right after `other`, on one baseline."""
    a, b = line.box, other.box
    if not _one_baseline(a, b) or not 0.8 <= line.size / max(other.size, 0.1) <= 1.25:
        return False
    size = max(line.size, other.size)
    return any(-0.2 * size <= gap <= _WORD_SPACE * size for gap in (b.x0 - a.x1, a.x0 - b.x1))


def _joined(pieces: list[Line]) -> Line:
    chars = [char for piece in pieces for char in piece.chars]
    text = pieces[0].text
    for before, piece in itertools.pairwise(pieces):
        touching = piece.box.x0 - before.box.x1 < 0.05 * max(before.size, piece.size)
        text += ("" if touching else " ") + piece.text
    text = re.sub(r" (?=[.,;:)])", "", text)  # "Figure 8 . The" → "Figure 8. The"
    box = pieces[0].box
    for piece in pieces[1:]:
        box = box.union(piece.box)
    return Line(chars=chars, text=text, box=box, rating=any(piece.rating for piece in pieces))


def _breaks_line(previous: Char, char: Char) -> bool:
    before, after = previous.box, char.box
    overlap = _overlap(before, after)
    if overlap < 0.3 * min(before.bottom - before.top, after.bottom - after.top):
        return True  # another baseline (a superscript such as the 2 of I²C still overlaps)
    gap = after.x0 - before.x1
    size = max(previous.size, char.size, 4.0)
    if previous.text in _BULLETS:  # a bullet and its item's text: one line, however far apart
        return gap < -0.5 * size or gap > 4 * size
    return gap < -0.5 * size or gap > 1.2 * size


_BULLETS = {"•", "●", "▪", "■", "◦", "–", "-", "►", "∙", "·"}


def _finish_line(chars: list[Char]) -> Line:
    visible = [char for char in chars if not char.text.isspace()]
    if not visible:
        return Line(chars=chars, text="", box=chars[0].box)
    box = Box(
        min(char.box.x0 for char in visible),
        min(char.box.top for char in visible),
        max(char.box.x1 for char in visible),
        max(char.box.bottom for char in visible),
    )
    text = normalise_glyphs("".join(char.text for char in chars))
    rating = bool(_DOT_LEADER.search(text))
    text = _DOT_LEADER.sub(": ", text)  # "Supply Voltage . . . . +10.5V" → "Supply Voltage: +10.5V"
    return Line(chars=visible, text=re.sub(r"\s+", " ", text).strip(" :"), box=box, rating=rating)


_DOT_LEADER = re.compile(r"\s*(?:\.\s?){4,}\s*")


# A ratings list set without leaders ("Input Voltage            15V"): each label and the lone
# value on its baseline far to its right. The values stand in a column, so at least this many
# pairs must share one (edge within _VALUE_COLUMN points); diagram labels seldom do.
_MIN_LISTED_VALUES = 3
_VALUE_COLUMN = 10.0
_BARE_NUMBER = re.compile(r"[\d.]+")
_ONE_VALUE = re.compile(r"[-+±−]?\d\S*")  # "0x30A2", "2.5V": one token
_LONE_VALUE = re.compile(r"(?<![A-Za-z])\d")  # "15V", "-40°C to 125°C", "φ JA= 160°C/W"; not "AIN3"


def join_listed_values(
    lines: list[Line], page_width: float, *, ignore: Callable[[Line], bool] = lambda line: False
) -> list[Line]:
    """The lines with each label of a leaderless ratings list joined to its value as one rating
    line ("Input Voltage: 15V"): apart, the value alone reads as figure text and is lost.
    `ignore`d lines (table cells) are neither labels nor values."""
    free = [line for line in lines if not ignore(line)]
    pairs = list(_label_value_pairs(free, page_width))
    # An entry whose leader ends its line ("PDIP Package . . . .") is one already, and so is a
    # pair under a header of its own ("Command  Hex Code" over "Soft Reset  0x30A2").
    listed = [
        (label, value)
        for label, value in pairs
        if label.rating or (_ONE_VALUE.fullmatch(value.text) and _under_headers(label, value, free))
    ]
    for edge in (lambda box: box.x1, lambda box: box.x0):  # right-aligned values, then left-aligned
        columns = _columns([(label, value) for label, value in pairs if not label.rating], edge)
        listed += [pair for column in columns if len(column) >= _MIN_LISTED_VALUES for pair in column]
    joined: dict[int, Line] = {}  # id(label) → the joined line
    taken: set[int] = set()  # id(value)
    for label, value in listed:
        if id(label) not in joined and id(value) not in taken:
            text = f"{label.text}: {value.text}"
            box = label.box.union(value.box)
            joined[id(label)] = Line(chars=[*label.chars, *value.chars], text=text, box=box, rating=True)
            taken.add(id(value))
    return [joined.get(id(line), line) for line in lines if id(line) not in taken]


def _under_headers(label: Line, value: Line, lines: list[Line]) -> bool:
    """Whether a line of words stands right above each of the two, the pair of them on one
    baseline: column headers over a row."""

    def header_over(line: Line) -> Line | None:
        box = line.box
        return next(
            (
                other
                for other in lines
                if 0 <= box.top - other.box.bottom <= 1.5 * box.height
                and other.box.x0 < box.x1
                and box.x0 < other.box.x1
                and re.fullmatch(r"[A-Za-z][A-Za-z .()/-]*", other.text)
            ),
            None,
        )

    over_label, over_value = header_over(label), header_over(value)
    return over_label is not None and over_value is not None and _beside(over_label.box, over_value.box)


def _columns(pairs: list[tuple[Line, Line]], edge: Callable[[Box], float]) -> list[list[tuple[Line, Line]]]:
    """The pairs grouped by where their values' `edge` stands, a group within _VALUE_COLUMN."""
    columns: list[list[tuple[Line, Line]]] = []
    for pair in sorted(pairs, key=lambda pair: edge(pair[1].box)):
        if columns and edge(pair[1].box) - edge(columns[-1][0][1].box) <= _VALUE_COLUMN:
            columns[-1].append(pair)
        else:
            columns.append([pair])
    return columns


def _label_value_pairs(lines: list[Line], page_width: float) -> Iterator[tuple[Line, Line]]:
    """Each word label with the nearest line right of it on its baseline, when that is a lone value."""
    near = _lines_near(lines)
    for label in lines:
        open_entry = label.rating and ": " not in label.text  # its leader ends the line
        if not (open_entry or (not label.rating and _is_label(label.text))):
            continue
        box = label.box
        # On the label's own baseline: a diagram's box beside a short label seldom is.
        beside = [
            line
            for line in (lines[i] for i in near(box))
            if line.box.x0 > box.x1 and _overlap(box, line.box) >= 0.6 * box.height
        ]
        value = min(beside, key=lambda line: line.box.x0, default=None)
        if value is None or value.box.x0 - box.x1 > 0.5 * page_width:
            continue
        if _is_lone_value(value.text) or (open_entry and _BARE_NUMBER.fullmatch(value.text)):
            yield label, value


def _is_lone_value(text: str) -> bool:
    """A value with its unit or sign ("15V", "φ JA= 160°C/W"): not a phrase, not a labelled value,
    not a bare number (a pin's or a section's)."""
    return (
        len(text) <= 30
        and len(text.split()) <= 4  # "- 65°C to +150°C"; not a diagram's row of bits
        and bool(_LONE_VALUE.search(text))
        and ":" not in text
        and not re.search(r"[A-Za-z]{4,}", text)
        and not _BARE_NUMBER.fullmatch(text)
    )


def _is_label(text: str) -> bool:
    """Words naming a quantity ("Input Voltage", "SO-8 package"), not a pin's or a net's name."""
    return (
        len(text) <= 60
        and bool(re.match(r"[A-Z(]", text) and re.search(r"[a-z]{3}", text))
        and not text.endswith((".", ","))
        and "=" not in text
    )


# --- reading order ---------------------------------------------------------------------------
#
# Lines keep the order of the page's content stream, which is usually the order the author
# wrote them in: column by column, a table row by row. Some tools write a two-column page
# line by line across both columns; such a page is read by position instead: between lines
# that span the gutter, the left column, then the right one.


def gutter(lines: list[Line], page_width: float) -> float | None:
    """The x of a gutter between two columns, or None.

    Of the positions in the middle half of the page with many lines on each side, those that
    the fewest lines cross (give or take one: a title, a logo) form runs; the widest run's
    middle is the gutter.
    """
    crossings: dict[float, int] = {}
    starts = sorted(line.box.x0 for line in lines)
    ends = sorted(line.box.x1 for line in lines)
    narrow = [line.box for line in lines if line.box.x1 - line.box.x0 <= 2]
    for step in range(int(page_width * 0.25), int(page_width * 0.75), 2):
        x = float(step)
        left = bisect.bisect_right(ends, x)  # lines ending at or before x
        right = len(starts) - bisect.bisect_left(starts, x)  # lines starting at or after x
        if min(left, right) >= 5:
            # Lines crossing x: all but those starting at or after x - 1 or ending at or
            # before x + 1 (a line doing both, at most 2 points wide, counted once).
            clear = len(starts) - bisect.bisect_left(starts, x - 1) + bisect.bisect_right(ends, x + 1)
            clear -= sum(1 for box in narrow if box.x0 >= x - 1 and box.x1 <= x + 1)
            crossings[x] = len(lines) - clear
    if not crossings:
        return None
    fewest = min(crossings.values())
    if fewest > len(lines) // 5:
        return None
    runs: list[list[float]] = []
    for x in sorted(crossings):
        if crossings[x] <= fewest + 1:
            if runs and x - runs[-1][-1] <= 2:
                runs[-1].append(x)
            else:
                runs.append([x])
    widest = max(runs, key=len)
    return (widest[0] + widest[-1]) / 2


def reading_order(
    lines: list[Line], page_width: float, *, ignore: Callable[[Line], bool] = lambda line: False
) -> list[Line]:
    """The stream's order, unless it interleaves two columns line by line (`ignore`d lines,
    such as table cells, neither find the gutter nor count as switching sides)."""
    counted = [line for line in lines if not ignore(line)]
    split = gutter(counted, page_width)
    if split is None:
        return lines
    sides = ["L" if line.box.x1 <= split else "R" if line.box.x0 >= split else "S" for line in counted]
    paired = [side for side in sides if side != "S"]
    switches = sum(1 for a, b in itertools.pairwise(paired) if a != b)
    if switches < max(6, 0.3 * len(paired)):
        return lines
    sides = ["L" if line.box.x1 <= split else "R" if line.box.x0 >= split else "S" for line in lines]
    ordered: list[Line] = []
    band: list[Line] = []
    for line, side in sorted(zip(lines, sides, strict=True), key=lambda pair: (pair[0].box.top, pair[0].box.x0)):
        if side == "S":
            ordered.extend(_by_column(band, split))
            band = []
            ordered.append(line)
        else:
            band.append(line)
    ordered.extend(_by_column(band, split))
    return ordered


def _by_column(lines: list[Line], split: float) -> list[Line]:
    left = [line for line in lines if line.box.x1 <= split]
    right = [line for line in lines if line.box.x1 > split]

    def order(line: Line) -> tuple[float, float]:
        return (line.box.top, line.box.x0)

    return sorted(left, key=order) + sorted(right, key=order)


# --- blocks and units ------------------------------------------------------------------------

_NUMBERISH = re.compile(r"^[-+−±]?[\d.,]+%?$|^[-+−]?\d+(\.\d+)?[a-zA-Zµ°%]{0,3}$")


# Short words that join a phrase ("120 °C at <5% rH for 2 h"); an axis or an equation has none.
_LINKING_WORDS = frozenset({"at", "by", "for", "in", "on", "or", "to"})


def is_figure_text(lines: list[Line]) -> bool:
    """Axis labels, tick values or an equation's scattered glyphs: text never worth quoting."""
    tokens = [token for line in lines for token in line.text.split()]
    if not tokens:
        return True
    text = " ".join(tokens)
    if len(text) <= 12 and not re.search(r"[A-Za-z]{3}", text):
        return True  # a lone tick value, letter or symbol
    numeric = sum(1 for token in tokens if _NUMBERISH.match(token))
    single = sum(1 for token in tokens if len(token) <= 2)
    words = sum(1 for token in tokens if re.fullmatch(r"[A-Za-z][a-z]{2,}", token) or token in _LINKING_WORDS)
    if len(tokens) >= 4 and numeric >= 0.7 * len(tokens) and words <= 1:
        return True
    return len(tokens) >= 6 and single >= 0.6 * len(tokens) and words <= 1


def group_blocks(lines: list[Line]) -> list[list[Line]]:
    """Consecutive lines (in reading order) that belong to one paragraph; a rating entry alone."""
    blocks: list[list[Line]] = []
    for line in lines:
        if (
            blocks
            and not line.rating
            and not blocks[-1][-1].rating
            and _continues(blocks[-1][-1], line)
            and not _after_caption(blocks[-1], line)
        ):
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def _continues(previous: Line, line: Line) -> bool:
    gap = line.box.top - previous.box.bottom
    size = max(previous.size, line.size, 1.0)
    if gap < -0.5 * size or gap > 0.9 * size:
        return False
    if abs(previous.size - line.size) > 1.2 or previous.bold != line.bold:
        return False
    if line.box.x0 > previous.box.x1 or line.box.x1 < previous.box.x0:
        return False  # side by side, not one under the other
    if _starts_item(line.text):
        return False
    return not previous.text.endswith(":") or len(previous.text) > 80


def _after_caption(block: list[Line], line: Line) -> bool:
    """Whether a line starts the text after a block that is a short caption alone ("Figure 8:
    SDI/SCK ESD drawing" over "The 7-bit device address is 111011x. …"), not its second line."""
    caption = block[0].text
    if len(block) > 1 or len(caption) >= 60 or not _CAPTION_LINE.match(caption):
        return False
    starts_sentence = bool(re.match(r"[A-Z][a-z]", line.text))
    return starts_sentence and (". " in line.text or len(line.text) > 1.5 * len(caption))


# "Figure 8: …", "FIGURE 4. …", "Table 6 SHT3x-DIS …"; not "Figure 1 shows …".
_CAPTION_LINE = re.compile(r"^(?:figure|fig\.|table)\s*\d+[A-Za-z]?(?:[.:]|\s+[A-Z])", re.IGNORECASE)


_ITEM = re.compile(r"^(?:[•●▪■◦\-–—*]|\(?\d{1,2}[.)]|[a-z][.)])\s")


def _starts_item(text: str) -> bool:
    return bool(_ITEM.match(text))


def block_text(lines: list[Line]) -> str:
    """Lines joined into running text; a word hyphenated across lines is joined again."""
    text = ""
    for line in lines:
        piece = line.text
        if not text:
            text = piece
        elif re.search(r"[a-z]-$", text) and piece[:1].islower():
            text = text[:-1] + piece
        else:
            text = f"{text} {piece}"
    return text


def block_box(lines: list[Line]) -> Box:
    box = lines[0].box
    for line in lines[1:]:
        box = box.union(line.box)
    return box


def _is_heading(block: list[Line], body_size: float) -> bool:
    if len(block) > 2:
        return False
    text = block_text(block)
    if len(text) > 90 or text.endswith((".", ",", ";")):
        return False
    return block[0].bold or block[0].size >= body_size + 1.0


def _median_size(lines: list[Line]) -> float:
    sizes = sorted(line.size for line in lines for _ in range(max(1, len(line.text) // 20)))
    return sizes[len(sizes) // 2] if sizes else 0.0


def text_units(lines: list[Line]) -> list[Unit]:
    """Headings, paragraphs and figure text from lines outside tables, in the order given."""
    body_size = _median_size(lines)
    units: list[Unit] = []
    label: Line | None = None  # "Supply Voltage" above its indented entries "ICL7660 . . . +10.5V"
    for block in group_blocks(lines):
        text = block_text(block)
        if not text:
            continue
        first = block[0]
        figure = is_figure_text(block)
        if figure and units and units[-1].kind == "item" and _beside(units[-1].box, first.box):
            pass  # a lone value beside the entry before ("N/A") leaves the label as it is
        elif first.rating and label is not None and first.box.x0 > label.box.x0 + 2:
            text = f"{label.text} {text}"
        elif first.rating:  # an entry at the label's level names what its indented lines continue
            label = Line(chars=first.chars, text=text.split(":")[0], box=first.box)
        elif label is not None and _beside(label.box, first.box) and not is_figure_text([label]):
            pass  # a column header on the label's baseline ("θJA (°C/W)") names values, not entries
        else:
            label = first if len(block) == 1 and len(text) < 60 and not text.endswith(".") else None
        if figure:
            kind: UnitKind = "figure"
        elif first.rating or _starts_item(text):
            kind = "item"
        elif _is_heading(block, body_size):
            kind = "heading"
        else:
            kind = "paragraph"
        units.append(Unit(kind, text, block_box(block)))
    return units


def _beside(left: Box, right: Box) -> bool:
    """Whether `right` stands right of `left` on its baseline."""
    return right.x0 > left.x1 and _one_baseline(left, right)


def _one_baseline(a: Box, b: Box) -> bool:
    """Whether the two overlap over most of the shorter one's height: one line's baseline."""
    return _overlap(a, b) >= 0.6 * min(a.height, b.height)


def _overlap(a: Box, b: Box) -> float:
    """How far the two overlap vertically (negative: the gap between them)."""
    return min(a.bottom, b.bottom) - max(a.top, b.top)


def clean_cell(text: str | None) -> str:
    if not text:
        return ""
    text = normalise_glyphs(unicodedata.normalize("NFKC", text))
    return re.sub(r"\s+", " ", text).strip()


def title_of(lines: list[Line]) -> str:
    """A first page's title: its two largest sizes of type, in order, e.g. "Datasheet SHT3x-DIS
    Humidity and Temperature Sensor" (the part number is often the largest, the device kind next)."""
    sized = [
        line
        for line in lines
        if len(line.text) >= 4 and re.search(r"[A-Za-z]{3}", line.text) and not _SECTION_WORD.match(line.text)
    ]
    levels = sorted({round(line.size) for line in sized}, reverse=True)[:3]
    if not levels:
        return ""
    words = _words_down_to(sized, levels[min(1, len(levels) - 1)])
    if len(words) < _THIN_TITLE_WORDS and len(levels) == 3:
        # A vendor's name and a part number say nothing of what the part is: the next size does.
        words = _words_down_to(sized, levels[2])
    return " ".join(words[:24])[:200]


def _words_down_to(lines: list[Line], size: int) -> list[str]:
    return re.sub(r"\s+", " ", " ".join(line.text for line in lines if round(line.size) >= size)).split(" ")


_THIN_TITLE_WORDS = 6


# Section names and page furniture set as large as a title: never part of it.
_SECTION_WORD = re.compile(
    r"^(?:\d+\.?\s+)?(?:general |functional |package |typical |ordering |pin |benefits and |product |"
    r"publication |simplified )?(?:description|features|applications?|information|configuration|"
    r"block diagram|application circuit|operating circuit|application diagram|release date|datasheet|data sheet)"
    r"\b(?!\s+\w+\s+\w+\s+\w+)",
    re.IGNORECASE,
)
