"""OCR for pages without a usable text layer: render the page (pypdfium2), read it with
RapidOCR's detection and recognition models on ONNX Runtime, and hand back its words with
boxes in PDF points, as characters and ruling lines that the layout parsing reads like a
text layer (`ocr_page_layout`).

Pure: no database, no Django, nothing downloaded (the models ship inside the
`rapidocr-onnxruntime` wheel). One engine per process, built on first use and shared by
threads; a page is read in one piece at a time, its bitmap dropped when it is done.

The recognition model (PP-OCRv4, trained mostly on Chinese) sometimes runs English words
together ("ContinuousDrainCurrent"), so besides its own spaces a gap in the line's ink wider
than a share of the line's height is a space too; and its steady confusions in datasheets
(Ω as Q, I as l, 0 as o) are typed back where the context leaves no doubt (`_typed`). A 0
read as O in a register map is settled from the page itself: the names, lines and columns
around it that have a digit there (`_zeros_by_siblings`, `_hex_zeros_by_column`); and so is
a pin name whose letters I and O were read as the digits 1 and 0 (`_names_read_as_numbers`).
"""

import bisect
import itertools
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pypdfium2
import pypdfium2.raw as pdfium_c

from library.parsing.glyphs import SYMBOL_FONT_GLYPHS
from library.parsing.layout import Box, Char, Edge, PageLayout
from library.parsing.pdfium_lock import PDFIUM

if TYPE_CHECKING:
    import onnxruntime as ort

    from library.parsing.pages import PageContext

# Rendering: 300 dpi reads 6-point table footnotes; the larger side is capped so that a
# poster-sized page cannot take the worker's memory.
DEFAULT_DPI = 300
MAX_SIDE_PX = 6000
DEFAULT_TIMEOUT_S = 60.0

# The models inside the rapidocr-onnxruntime wheel (PP-OCRv4 mobile, Chinese and English).
DETECTION_MODEL = "ch_PP-OCRv4_det_infer.onnx"
RECOGNITION_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
# Detection runs on the page scaled down to this many pixels on its larger side (the
# detector finds lines as well at ~180 dpi, and its cost grows with the area).
DETECTION_MAX_SIDE = 2000
# Recognition: lines of similar width are read together, padded to the widest of the batch.
RECOGNITION_HEIGHT = 48
RECOGNITION_BATCH = 8
RECOGNITION_MIN_WIDTH = 320  # PaddleOCR's: shorter lines are padded to it
MIN_CONFIDENCE = 0.5  # a line read with less is noise (a logo, a smudge), as RapidOCR drops it
# A gap in a line's ink at least this share of the line's height is a space between words.
WORD_GAP = 0.4
# How close, in line heights, the letters beside a "1"'s gap stand when it is inside a word
# (see `_narrow_gaps_closed`).
NARROW_JOIN = 1.0

# A text layer with fewer readable characters than this, over a page that is mostly an image
# (or has no text at all), is not the page's text: a scanner's page number, a stamp.
MIN_TEXT_CHARS = 40
IMAGE_SHARE = 0.3


class OcrError(Exception):
    """Base of the OCR errors."""

    code = "ocr_error"


class OcrUnavailable(OcrError):
    """The OCR runtime cannot be loaded here: its package is missing, or OpenCV cannot find
    the system libraries it links (on a minimal Debian: `apt-get install libgl1 libglib2.0-0`)."""

    code = "ocr_unavailable"


class OcrPageUnreadable(OcrError):
    """One page that OCR could not read; the document's other pages are unaffected."""

    code = "ocr_page_unreadable"

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"page {number}: {reason}")
        self.number = number  # 1-based
        self.reason = reason


class OcrPageTimeout(OcrPageUnreadable):
    code = "ocr_page_timeout"


@dataclass(frozen=True)
class OcrWord:
    text: str
    box: Box  # PDF points, origin at the page's top-left corner, as `layout.Box`


@dataclass(frozen=True)
class OcrLine:
    """One line as the detector found it (a table cell, a heading, a line of a paragraph)."""

    text: str
    box: Box
    size: float  # the height of its type in points, as a text layer's font size
    confidence: float
    words: list[OcrWord]


@dataclass(frozen=True)
class OcrPage:
    number: int  # 1-based
    width: float
    height: float
    lines: list[OcrLine]  # top to bottom, left to right within a row
    edges: list[Edge] = field(default_factory=list)  # ruling lines seen in the image
    seconds: float = 0.0
    dpi: int = DEFAULT_DPI

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def chars(self) -> list[Char]:
        """The words as characters, in the order and form `layout.page_chars` gives a text
        layer's: a word's letters share its box evenly, a space between words, a line break
        after each detected line."""
        chars: list[Char] = []
        for line in self.lines:
            for index, word in enumerate(line.words):
                if index:
                    gap = Box(line.words[index - 1].box.x1, word.box.top, word.box.x0, word.box.bottom)
                    chars.append(Char(" ", gap, line.size, False))
                step = word.box.width / max(len(word.text), 1)
                for offset, letter in enumerate(word.text):
                    x0 = word.box.x0 + offset * step
                    chars.append(Char(letter, Box(x0, word.box.top, x0 + step, word.box.bottom), line.size, False))
            if line.words:
                last = chars[-1]
                chars.append(Char(" ", last.box, line.size, False))
                chars.append(Char("\n", last.box, line.size, False))
        return chars


# --- does the page need OCR? -----------------------------------------------------------------


def text_layer_usable(page: pypdfium2.PdfPage) -> bool:
    """Whether the page's own text layer carries its text, so it needs no OCR.

    Not when most of its characters have no Unicode meaning (a font without a ToUnicode map),
    nor when it has no text at all, nor when a few characters sit over a page that is mostly
    an image (a scan with a stamped page number). A page of charts with its axis labels, or an
    earlier OCR's invisible text over a scan, is usable.
    """
    with PDFIUM:  # every step below reads the page through pdfium
        return _text_layer_usable(page)


def _text_layer_usable(page: pypdfium2.PdfPage) -> bool:
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
    finally:
        textpage.close()
    visible = [char for char in text if not char.isspace()]
    readable = sum(1 for char in visible if _readable(char))
    if readable < 0.5 * len(visible):
        return False
    if readable >= MIN_TEXT_CHARS:
        return True
    if readable == 0:
        return not _draws_anything(page)
    return image_share(page) < IMAGE_SHARE


_SYMBOL_CODES = {chr(code) for code in SYMBOL_FONT_GLYPHS}


def _readable(char: str) -> bool:
    if char in _SYMBOL_CODES:
        return True
    return char != "\ufffd" and unicodedata.category(char) not in {"Co", "Cn", "Cc", "Cs"}


def _draws_anything(page: pypdfium2.PdfPage) -> bool:
    return next(iter(page.get_objects(max_depth=1)), None) is not None


def image_share(page: pypdfium2.PdfPage) -> float:
    """The share of the page that its images cover (overlaps counted twice, at most 1)."""
    width, height = page.get_size()
    if width <= 0 or height <= 0:
        return 0.0
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
        left, bottom, right, top = obj.get_bounds()
        covered += max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(top, height) - max(bottom, 0.0))
    return min(1.0, covered / (width * height))


# --- the engine ------------------------------------------------------------------------------


def configured_threads() -> int:
    """OCR_THREADS from the environment: the threads ONNX Runtime reads one page with
    (0 or unset: one per core this process may run on)."""
    raw = os.environ.get("OCR_THREADS", "").strip()
    try:
        threads = int(raw) if raw else 0
    except ValueError:
        raise ValueError(f"OCR_THREADS must be a whole number, not {raw!r}") from None
    if threads < 0:
        raise ValueError(f"OCR_THREADS must be at least 0, not {threads}")
    return threads or len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class _Read:
    """A recognised line in the page image's pixels, before the move to PDF points."""

    quad: np.ndarray  # 4×2: top-left, top-right, bottom-right, bottom-left
    text: str
    confidence: float
    words: list[tuple[str, float, float]]  # text, x0, x1 along the line, in crop pixels
    band: tuple[float, float]  # the ink's top and bottom, in crop pixels
    crop_size: tuple[int, int]  # width, height


class OcrEngine:
    """RapidOCR's detection and recognition models on ONNX Runtime, with its detector's pre-
    and post-processing; the rest (cropping, batching, spacing, boxes) is ours.

    Thread-safe: `read` holds a lock, so pages are read one at a time per process (each uses
    all the engine's threads anyway).
    """

    def __init__(self, *, threads: int) -> None:
        try:
            import onnxruntime as ort
            import rapidocr_onnxruntime
            from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess, DetPreProcess
        except (ImportError, OSError) as exc:  # OSError: a system library OpenCV links is missing
            raise OcrUnavailable(f"the OCR runtime cannot be loaded: {exc}") from exc
        models = Path(rapidocr_onnxruntime.__file__).parent / "models"
        self.threads = threads
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Every page and batch has other shapes: an arena or memory patterns would keep the
        # largest buffers ever seen. Idle threads sleep rather than spin (a shared machine).
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        self._detector = ort.InferenceSession(str(models / "ch_PP-OCRv4_det_infer.onnx"), options, providers=providers)
        self._recogniser = ort.InferenceSession(
            str(models / "ch_PP-OCRv4_rec_infer.onnx"), options, providers=providers
        )
        characters = self._recogniser.get_modelmeta().custom_metadata_map["character"].splitlines()
        self._alphabet = ["", *characters, " "]  # CTC's blank first; the model's space last
        self._pre = DetPreProcess(736, "min", [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
        self._post = DBPostProcess(
            thresh=0.3, box_thresh=0.5, max_candidates=5000, unclip_ratio=1.6, score_mode="fast", use_dilation=True
        )
        self._lock = threading.Lock()
        self._run_options: ort.RunOptions | None = None

    def read(self, image: np.ndarray, *, deadline: float | None) -> list[_Read]:
        """The lines of a grayscale page image (uint8, height × width), top to bottom.

        `deadline` (time.monotonic()) aborts a model run that is still going at that time.
        Raises TimeoutError then.
        """
        with self._lock, self._watchdog(deadline):
            quads = self._detect(image)
            _check(deadline)
            return self._recognise(image, quads, deadline)

    @contextmanager
    def _watchdog(self, deadline: float | None) -> Iterator[None]:
        """Sets ONNX Runtime's terminate flag on the runs in progress when the deadline passes."""
        import onnxruntime as ort

        options = ort.RunOptions()
        options.log_severity_level = 4  # the aborted run's error is ours to report
        timer = None
        if deadline is not None:
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), _terminate, args=(options,))
            timer.daemon = True
            timer.start()
        self._run_options = options
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
            self._run_options = None

    def _run(self, session: "ort.InferenceSession", batch: np.ndarray) -> np.ndarray:
        try:
            outputs = session.run(None, {session.get_inputs()[0].name: batch}, self._run_options)
        except Exception as exc:
            if self._run_options is not None and self._run_options.terminate:
                raise TimeoutError("the model run was stopped at the deadline") from exc
            raise
        return np.asarray(outputs[0])

    def _detect(self, image: np.ndarray) -> list[np.ndarray]:
        import cv2

        height, width = image.shape
        scale = min(1.0, DETECTION_MAX_SIDE / max(height, width))
        small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        small_height, small_width = small.shape
        prepared = self._pre(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR))
        del small
        if prepared is None:
            return []
        found = self._run(self._detector, prepared)
        boxes, _scores = self._post(found, (small_height, small_width))
        quads = []
        for box in boxes:
            quad = _clockwise(np.asarray(box, dtype=np.float32)) / scale
            quad[:, 0] = np.clip(quad[:, 0], 0, width - 1)
            quad[:, 1] = np.clip(quad[:, 1], 0, height - 1)
            if _side(quad, 0, 1) > 3 and _side(quad, 0, 3) > 3:
                quads.append(quad)
        return _upright(quads)

    def _recognise(self, image: np.ndarray, quads: list[np.ndarray], deadline: float | None) -> list[_Read]:
        crops = [_crop(image, quad) for quad in quads]
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / crops[i].shape[0])
        reads: dict[int, _Read] = {}
        for start in range(0, len(order), RECOGNITION_BATCH):
            _check(deadline)
            chunk = order[start : start + RECOGNITION_BATCH]
            batch, widths = _recognition_batch([crops[i] for i in chunk])
            probabilities = self._run(self._recogniser, batch)
            for row, index in enumerate(chunk):
                read = self._decode(probabilities[row], widths[row], batch.shape[3], crops[index], quads[index])
                if read is not None:
                    reads[index] = read
        return [reads[index] for index in sorted(reads)]

    def _decode(
        self, probabilities: np.ndarray, resized_width: int, padded_width: int, crop: np.ndarray, quad: np.ndarray
    ) -> "_Read | None":
        """CTC greedy decoding with each character's column, then words from the ink's gaps."""
        best = probabilities.argmax(axis=1)
        scores = probabilities.max(axis=1)
        columns = probabilities.shape[0]
        letters: list[tuple[str, float]] = []  # character, its x in the crop
        confidences: list[float] = []
        previous = 0
        for column, index in enumerate(best):
            if index != 0 and index != previous and index < len(self._alphabet):
                x = (column + 0.5) * padded_width / columns * crop.shape[1] / resized_width
                letters.append((self._alphabet[index], x))
                confidences.append(float(scores[column]))
            previous = index
        if not letters:
            return None
        confidence = float(np.mean(confidences))
        if confidence < MIN_CONFIDENCE:
            return None
        band, spans = _ink_spans(crop)
        words = _words(letters, _narrow_gaps_closed(letters, spans, band[1] - band[0]))
        if not words:
            return None
        text = " ".join(word for word, _x0, _x1 in words)
        return _Read(quad, text, confidence, words, band, (crop.shape[1], crop.shape[0]))


def _terminate(options: "ort.RunOptions") -> None:
    options.terminate = True


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError("the deadline passed")


_engine: OcrEngine | None = None
_engine_pid = 0
_engine_lock = threading.Lock()


def ocr_engine() -> OcrEngine:
    """This process's engine, built on first use with `configured_threads()` threads (a forked
    worker builds its own: ONNX Runtime's sessions do not survive a fork)."""
    global _engine, _engine_pid
    with _engine_lock:
        if _engine is None or _engine_pid != os.getpid():
            _engine = OcrEngine(threads=configured_threads())
            _engine_pid = os.getpid()
        return _engine


# --- geometry and ink ------------------------------------------------------------------------


def _clockwise(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left."""
    by_x = points[np.argsort(points[:, 0]), :]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1])]
    top_right, bottom_right = right[np.argsort(right[:, 1])]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)


def _side(quad: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(quad[a] - quad[b]))


def _upright(quads: list[np.ndarray]) -> list[np.ndarray]:
    """Lines of upright text, top to bottom and left to right within a row.

    A box much taller than wide is turned text (an axis title), which a text layer's parsing
    leaves out too, unless it is no taller than a line of text: a lone "1" in a table cell.
    """
    if not quads:
        return []
    heights = sorted(_side(quad, 0, 3) for quad in quads if _side(quad, 0, 1) >= _side(quad, 0, 3))
    line_height = heights[len(heights) // 2] if heights else 0.0
    kept = [
        quad for quad in quads if _side(quad, 0, 3) < 1.5 * _side(quad, 0, 1) or _side(quad, 0, 3) <= 1.6 * line_height
    ]
    kept.sort(key=lambda quad: (float(quad[0][1]), float(quad[0][0])))
    rows: list[list[np.ndarray]] = []
    for quad in kept:  # boxes whose middles are within half a line of each other share a row
        middle = float(quad[:, 1].mean())
        if rows and abs(middle - float(rows[-1][0][:, 1].mean())) < 0.5 * max(line_height, 1.0):
            rows[-1].append(quad)
        else:
            rows.append([quad])
    return [quad for row in rows for quad in sorted(row, key=lambda quad: float(quad[0][0]))]


def _crop(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The line straightened into its own image (grayscale)."""
    import cv2

    width = max(1, round(max(_side(quad, 0, 1), _side(quad, 3, 2))))
    height = max(1, round(max(_side(quad, 0, 3), _side(quad, 1, 2))))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad, target)
    return cv2.warpPerspective(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)


def _recognition_batch(crops: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Crops scaled to the model's height, normalised to [-1, 1], padded to the widest."""
    import cv2

    widths = [max(1, int(np.ceil(RECOGNITION_HEIGHT * crop.shape[1] / crop.shape[0]))) for crop in crops]
    padded = max(*widths, RECOGNITION_MIN_WIDTH)
    batch = np.zeros((len(crops), 3, RECOGNITION_HEIGHT, padded), dtype=np.float32)
    for row, (crop, width) in enumerate(zip(crops, widths, strict=True)):
        resized = cv2.resize(crop, (width, RECOGNITION_HEIGHT)).astype(np.float32)
        batch[row, :, :, :width] = (resized / 255.0 - 0.5) / 0.5
    return batch, widths


def _ink_spans(crop: np.ndarray) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """The line's band of ink (top, bottom) and its runs of ink (x0, x1) between gaps wide
    enough to be spaces, in crop pixels."""
    import cv2

    _threshold, binary = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    height, width = binary.shape
    # Rules crossing the crop are no letters: a table's horizontal rule (longer than two line
    # heights; no stroke of a letter is) and a cell's border (nearly the crop's full height).
    rules = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * height, 1)))
    ink = (binary > rules).astype(bool)
    ink[:, ink.sum(axis=0) >= 0.9 * height] = False
    rows = ink.sum(axis=1)
    if not rows.any():
        return (0.0, float(height)), [(0.0, float(width))]
    # The run of inked rows with the most ink: the line itself, not a neighbour's descenders.
    runs: list[tuple[int, int]] = []
    for row in np.flatnonzero(rows).tolist():
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    top, bottom = max(runs, key=lambda run: int(rows[run[0] : run[1] + 1].sum()))
    inked = np.flatnonzero(ink[top : bottom + 1].any(axis=0))
    minimum = max(2.0, WORD_GAP * (bottom + 1 - top))
    spans: list[tuple[float, float]] = []
    start = int(inked[0])
    for left, right in itertools.pairwise(inked.tolist()):
        if right - left - 1 >= minimum:
            spans.append((float(start), float(left + 1)))
            start = right
    spans.append((float(start), float(inked[-1] + 1)))
    return (float(top), float(bottom + 1)), spans


def _narrow_gaps_closed(
    letters: list[tuple[str, float]], spans: list[tuple[float, float]], height: float
) -> list[tuple[float, float]]:
    """The runs of ink, joined across a gap that only a "1"'s empty sides make.

    A "1" has little ink in a digit's full-width cell, so beside it the ink leaves a gap as
    wide as a space ("1 1", "241 .9", "RX1 IE"). Where the model put no space of its own, the
    "1" stands next to a digit, a point or a capital, and the letters on either side of the
    gap stand closer than the line's height (a space adds most of a letter's width to that),
    the gap is inside a number or a name.
    """
    joined = list(spans[:1])
    placed = [(letter, x) for letter, x in letters]
    for span in spans[1:]:
        middle = (joined[-1][1] + span[0]) / 2
        left = [index for index, (_letter, x) in enumerate(placed) if x < middle]
        if left and left[-1] + 1 < len(placed) and _inside_word(placed[left[-1]], placed[left[-1] + 1], height):
            joined[-1] = (joined[-1][0], span[1])
        else:
            joined.append(span)
    return joined


def _inside_word(before: tuple[str, float], after: tuple[str, float], height: float) -> bool:
    pair = before[0] + after[0]
    if "1" not in pair or not all(char.isdigit() or char == "." or char.isupper() for char in pair):
        return False
    return after[1] - before[1] < NARROW_JOIN * height


def _words(letters: list[tuple[str, float]], spans: list[tuple[float, float]]) -> list[tuple[str, float, float]]:
    """Letters (with their x) split into words at the ink's gaps and at the model's spaces.

    A word spans its run of ink; words the model spaced within one run share it by length.
    """
    middles = [(left[1] + right[0]) / 2 for left, right in itertools.pairwise(spans)]
    groups: list[tuple[int, str]] = []  # the run of ink, the word
    current, run = "", -1
    for letter, x in letters:
        here = bisect.bisect_right(middles, x)
        if letter == " " or here != run:
            if current:
                groups.append((run, current))
            current = ""
        run = here
        if letter != " ":
            current += letter
    if current:
        groups.append((run, current))
    groups = [(run, _typed(text)) for run, text in groups]
    words: list[tuple[str, float, float]] = []
    for run, together in itertools.groupby(groups, key=lambda group: group[0]):
        texts = [text for _run, text in together]
        x0, x1 = spans[run]
        total = sum(len(text) for text in texts)
        for text in texts:
            share = (x1 - x0) * len(text) / total
            words.append((text, x0, x0 + share))
            x0 += share
    return words


# The model's alphabet is Chinese: its full-width punctuation and a few look-alikes (一 for a
# dash, 二 for =) are typed here as a Latin datasheet has them.
_PLAIN = str.maketrans(
    {"℃": "°C", "。": ".", "、": ",", "“": '"', "”": '"', "‘": "'", "’": "'", "【": "[", "】": "]"}
    | {"一": "—", "二": "="}
    | {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}  # full-width ASCII
)
# Its steady confusions in datasheets: Ω read as Q after a number or alone as a unit ("44mQ",
# "kQ"); a sans-serif capital I read as l before capitals ("lOUT", "loL"); a zero read as o in
# a hexadecimal number ("OxFE", "0xoo") or at the end of a register name ("LEDo", "TXBoCTRL");
# I/O read as 1/0.
_OHM = re.compile(r"(?<=\d)([kKmMµu]?)Q(?![A-Za-z])|^([kKmM]?)Q$")
_CAPITAL_I = re.compile(r"^l(?=[A-Z]|o[A-Z]|ou[A-Z]|[bcdfghjkmnpqrstvwz]\w)")
_HEX = re.compile(r"^[0oO][xX]([0-9A-Fa-foOX]+)$")
_REGISTER_ZERO = re.compile(r"(?<=[A-Z]{2})o(?=[A-Z0-9]|$)")


def _typed(word: str) -> str:
    word = word.replace("°℃", "℃").translate(_PLAIN)
    word = _OHM.sub(lambda match: f"{match.group(1) or match.group(2) or ''}Ω", word)
    word = _HEX.sub(lambda match: "0x" + re.sub("[oO]", "0", match.group(1)), word)
    word = _REGISTER_ZERO.sub("0", word)
    if word == "1/0":
        return "I/O"
    return _CAPITAL_I.sub("I", word)


# --- ruling lines ----------------------------------------------------------------------------


def ruling_lines(image: np.ndarray, scale: float) -> list[Edge]:
    """Thin straight dark lines in a page image (pixels per point: `scale`), as the layout's
    ruling lines: horizontal ones at least 15 points long, vertical ones at least 9."""
    import cv2

    dark = (image < 128).astype(np.uint8)
    edges: list[Edge] = []
    thickness = max(2, round(1.5 * scale))
    for orientation, kernel in (("h", (int(15 * scale), 1)), ("v", (1, int(9 * scale)))):
        lines = cv2.morphologyEx(dark, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(lines, connectivity=8)
        for x, y, w, h, _area in stats[1:count]:
            across = h if orientation == "h" else w
            if across > thickness:
                continue
            box = Box(x / scale, y / scale, (x + w) / scale, (y + h) / scale)
            edges.append(Edge("h" if orientation == "h" else "v", box))
    return edges


# --- a page ----------------------------------------------------------------------------------


def ocr_page(
    page: pypdfium2.PdfPage, number: int, *, dpi: int = DEFAULT_DPI, timeout_s: float | None = DEFAULT_TIMEOUT_S
) -> OcrPage:
    """Read one page by OCR: its lines and words with boxes in PDF points.

    Raises OcrPageUnreadable when the page cannot be rendered or read (OcrPageTimeout past
    `timeout_s`, counted from the call), OcrUnavailable when the OCR runtime cannot load.
    """
    started = time.monotonic()
    deadline = None if timeout_s is None else started + timeout_s
    with PDFIUM:
        width, height = page.get_size()
        scale = min(dpi / 72, MAX_SIDE_PX / max(width, height, 1.0))
        image = _render(page, number, scale)
    engine = ocr_engine()
    try:
        reads = engine.read(image, deadline=deadline)
        edges = ruling_lines(image, scale)
    except TimeoutError:
        raise OcrPageTimeout(number, f"OCR took longer than {timeout_s:g} s") from None
    except Exception as exc:
        raise OcrPageUnreadable(number, f"OCR failed: {exc}") from exc
    finally:
        del image
    lines = [_to_points(read, scale) for read in reads]
    lines = _names_read_as_numbers(_hex_zeros_by_column(_zeros_by_siblings(lines)))
    lines = [_zeros_after_signs(line) for line in lines]
    return OcrPage(
        number=number,
        width=width,
        height=height,
        lines=lines,
        edges=edges,
        seconds=time.monotonic() - started,
        dpi=round(scale * 72),
    )


def _render(page: pypdfium2.PdfPage, number: int, scale: float) -> np.ndarray:
    try:
        bitmap = page.render(scale=scale, grayscale=True)
    except Exception as exc:
        raise OcrPageUnreadable(number, f"the page cannot be rendered: {exc}") from exc
    try:
        image = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)  # ours: the bitmap is freed now
    finally:
        bitmap.close()
    return image[:, :, 0] if image.ndim == 3 else image


def _to_points(read: _Read, scale: float) -> OcrLine:
    """A line's words from crop pixels to PDF points, along the line's (maybe tilted) box."""
    quad = read.quad
    crop_width, crop_height = read.crop_size
    band_top, band_bottom = read.band

    def at(x: float, y: float) -> tuple[float, float]:
        u, v = x / max(crop_width, 1), y / max(crop_height, 1)
        top = quad[0] + (quad[1] - quad[0]) * u
        bottom = quad[3] + (quad[2] - quad[3]) * u
        point = top + (bottom - top) * v
        return float(point[0]) / scale, float(point[1]) / scale

    words = []
    for text, x0, x1 in read.words:
        left, top = at(x0, band_top)
        right, bottom = at(x1, band_bottom)
        words.append(OcrWord(text, Box(left, top, max(right, left), max(bottom, top))))
    box = words[0].box
    for word in words[1:]:
        box = box.union(word.box)
    return OcrLine(read.text, box, size=box.height, confidence=read.confidence, words=words)


# A name of a register, bit field or pin: capitals, digits and underscores, two characters at
# least ("RXF0SIDH", "LED0_ON_L", "D0"), and the punctuation that may close it in a list.
# A bit range may follow it ("RX_ADDR_P1[39:8]").
_IDENTIFIER = re.compile(r"^(?=.*[A-Z])([A-Z0-9_]{2,})((?:\[\d+(?::\d+)?\])?[,.;:)]?)$")
_LOOK_ALIKE_ZERO = "Oo"
_MOST_ZEROS = 4  # a name with more O's than this is a word, not a name with zeros (2⁴ tries)


def _with_words(line: OcrLine, words: list[OcrWord]) -> OcrLine:
    """The line with its words typed anew, its text their text; the line itself when no word's
    text changed."""
    if [word.text for word in words] == [word.text for word in line.words]:
        return line
    return OcrLine(" ".join(word.text for word in words), line.box, line.size, line.confidence, words)


def _family(name: str) -> str:
    return re.sub(r"\d", "#", name)


def _zeros_by_siblings(lines: list[OcrLine]) -> list[OcrLine]:
    """Names of one family read with O where their siblings have digits, typed with 0.

    A page lists names that differ only in a number (TXB0CTRL, TXB1CTRL, TXB2CTRL); in
    sans-serif type 0 and O are drawn alike, and the model reads "TXBOCTRL". A name whose
    O's, taken as digits, give the family of a name the page has with digits there, has
    zeros there. The page's own names decide, so English words are left alone.
    """
    families = set()
    line_families = {_family(line.text) for line in lines if any(char.isdigit() for char in line.text)}
    for line in lines:
        for word in line.words:
            match = _IDENTIFIER.match(word.text.replace("o", "O") if word.text.isupper() else word.text)
            if match and any(char.isdigit() for char in match.group(1)):
                families.add(_family(match.group(1)))
    if not families and not line_families:
        return lines
    fixed = []
    for line in lines:
        words = [OcrWord(_zeros_in(word.text, families), word.box) for word in line.words]
        # A lone O where the page's other lines like it have a number: "byte O" among "byte 1".
        alone = [index for index, word in enumerate(words) if word.text in ("O", "o")]
        if alone and _family(" ".join("0" if i in alone else w.text for i, w in enumerate(words))) in line_families:
            words = [OcrWord("0", word.box) if i in alone else word for i, word in enumerate(words)]
        fixed.append(_with_words(line, words))
    return fixed


def _zeros_in(word: str, families: set[str]) -> str:
    """`word` with the O's that its family has as digits typed as 0 (see `_zeros_by_siblings`)."""
    match = _IDENTIFIER.match(word.replace("o", "O") if word.isupper() else word)
    if match is None:
        return word
    name = match.group(1)
    places = [index for index, char in enumerate(name) if char in _LOOK_ALIKE_ZERO]
    if not places or len(places) > _MOST_ZEROS:
        return word
    # The most O's first: "RXFOEIDO" belongs to RXF#EID#, not to a family with one digit.
    for count in range(len(places), 0, -1):
        for chosen in itertools.combinations(places, count):
            candidate = "".join("0" if index in chosen else char for index, char in enumerate(name))
            if _family(candidate) in families:
                return candidate + match.group(2)
    return word


_HEX_NUMBER = re.compile(r"^[0-9][0-9A-F]*[hH]?$")
_HEX_READ_WITH_O = re.compile(r"^[Oo]([0-9A-F]+[hH]?)$")
_HEX_COLUMN_SIBLINGS = 2


def _hex_zeros_by_column(lines: list[OcrLine]) -> list[OcrLine]:
    """Hexadecimal numbers read with O for their leading 0 ("OA", "OFh") typed with 0, when the
    column they stand in holds hexadecimal numbers of their length that begin with a digit
    (a register table's address column: 09, OA, OB, ..., 10)."""
    numbers = [
        (word.box.x0, len(word.text), line.size)
        for line in lines
        for word in line.words
        if _HEX_NUMBER.match(word.text) and any(char.isdigit() for char in word.text)
    ]
    fixed = []
    for line in lines:
        words = []
        for word in line.words:
            if _HEX_READ_WITH_O.match(word.text):
                column = sum(
                    1
                    for x0, length, size in numbers
                    if length == len(word.text) and abs(x0 - word.box.x0) <= max(size, line.size) / 2
                )
                if column >= _HEX_COLUMN_SIBLINGS:
                    word = OcrWord("0" + word.text[1:], word.box)
            words.append(word)
        fixed.append(_with_words(line, words))
    return fixed


# A name that begins with the letters I and O read as digits: "1034", "I015" for IO34, IO15.
_READ_AS_DIGITS = re.compile(r"^([10IlO]{2,})(\d+)([,.;:)]?)$")
_AS_LETTERS = str.maketrans("10l", "IOI")
_NAME_INSIDE = re.compile(r"(?<=[A-Z_])[A-Z]+\d+")


def _names_read_as_numbers(lines: list[OcrLine]) -> list[OcrLine]:
    """Pin names read as numbers ("1034" for IO34) typed as the name, when the page writes that
    name at the end of a longer one (GPIO34) and the number stands alone in a column of names.

    In sans-serif type I and 1, O and 0 are drawn alike, and a pin table's name column
    ("IO34", "IO0") comes out as numbers. The page's own longer names decide which reading is
    a name; a number among numbers (a column of values) is left alone.
    """
    tails = {
        match.group(0)[start:]
        for line in lines
        for word in line.words
        for match in _NAME_INSIDE.finditer(word.text)
        for start in range(len(match.group(0)) - 1)
    }
    if not tails:
        return lines
    fixed = []
    for line in lines:
        match = _READ_AS_DIGITS.match(line.text)
        name = _as_name(match, tails) if match and len(line.words) == 1 else None
        if name is not None and _in_a_column_of_names(line, lines):
            line = _with_words(line, [OcrWord(name, line.words[0].box)])
        fixed.append(line)
    return fixed


def _as_name(match: re.Match[str], tails: set[str]) -> str | None:
    """The first reading of the leading look-alike characters as letters that the page has as
    the end of a longer name ("1034" → "IO34", the end of "GPIO34")."""
    head, digits, closing = match.groups()
    for cut in range(2, len(head) + 1):
        name = head[:cut].translate(_AS_LETTERS) + head[cut:] + digits
        if name in tails:
            return name + closing
    return None


def _in_a_column_of_names(line: OcrLine, lines: list[OcrLine]) -> bool:
    """Whether another line starting where `line` starts (within its height) is a word: a
    column of names ("GND", "SENSOR_VP"), not of values."""
    return any(
        other is not line
        and abs(other.box.x0 - line.box.x0) <= line.size
        and sum(char.isalpha() for char in other.text) >= 2
        and not _READ_AS_DIGITS.match(other.text)
        for other in lines
    )


# A value after a comparison sign read with O for a lone 0: "ICHG = OA", "Rs = OQ" (0 A, 0 Ω).
_SIGN = re.compile(r"[=<>≤≥]$")
_ZERO_READ_AS_O = re.compile(r"^[Oo]((?:[.,]\d+)?)((?:[pnuµμmkM]?(?:A|V|W|Ω|Q|Hz|s|F))?[,.;:)]?)$")


def _zeros_after_signs(line: OcrLine) -> OcrLine:
    """The line with a value right after "=", "<", ">", "≤" or "≥" that reads O (with a unit or
    none) typed as 0 (and its unit Q as Ω): a sign is followed by a number, not a letter."""
    words = list(line.words)
    for index in range(1, len(words)):
        match = _ZERO_READ_AS_O.match(words[index].text)
        if match and _SIGN.search(words[index - 1].text):
            unit = match.group(2).replace("Q", "Ω")  # Q can only be the unit here
            words[index] = OcrWord(f"0{match.group(1)}{unit}", words[index].box)
    return _with_words(line, words)


def ocr_page_layout(ocr: OcrPage, context: "PageContext | None" = None) -> PageLayout:
    """The OCR'd page through the same parsing as a text layer: lines, blocks, table rows."""
    from library.parsing.pages import PageContext, layout_from_chars

    return layout_from_chars(ocr.chars(), ocr.edges, ocr.width, ocr.height, ocr.number, context or PageContext())
