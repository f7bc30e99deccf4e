"""OCR against the text layer, on scans made from the twenty real datasheets.

For each datasheet in ../shared/datasheets and ../shared/datasheets-extra, two pages: its
first (title, feature lists, prose) and the page whose ruled tables hold the most numbers
(by the text layer's own parsing). Each page is rendered at --scan-dpi into a grey JPEG and
wrapped in an image-only PDF (a scan with no text layer; 300 dpi by default, the usual
resolution for documents; the issue's own example was 200 dpi), which `library.parsing.ocr` then
reads as ingestion would. The reference is the original page's text layer.

Measures, defined exactly:
- Word recall. Text → tokens: `normalise_glyphs` (Symbol-font glyphs, NFKC), casefold, then
  every maximal run of letters and every number (digits, with inner ".digits" parts kept:
  "0.87" is one token); spaces and punctuation only separate tokens. The reference is the
  page's upright text layer as `layout.page_chars` reads it (turned text, such as a chart's
  axis title, is left out by the layout parsing and by OCR alike). Recall = Σ over token types
  of min(count in reference, count in OCR) / count of reference tokens (multisets, all pages
  pooled); the worst page is printed too.
- Table numbers exact: the number tokens of the text layer's table rows (`parse_page`'s
  units of kind "row": values, conditions, headers and captions), as a multiset, found as
  the very same tokens among the page's OCR tokens. A number read with one digit wrong, or
  split ("1 00"), is a miss. The misses are listed. A number counts at most as often as the
  page's text has it: the table parsing gives a merged cell (one value under two columns) to
  each column it spans, but the page prints it once.
- Speed: pages per second for the whole page (render, detection, recognition, ruling lines)
  on this machine with OCR_THREADS threads (default: all cores; the machine may be shared).
- Memory: a 100-page scan (the selected pages, repeated) read page by page in a fresh
  process; peak RSS (getrusage) against the RSS after the first page and after each tenth.

    .venv/bin/python bench/ocr.py [--scan-dpi 300] [--memory-pages 100] [--out bench/results/ocr.json]

Prints a table and writes bench/results/ocr.json.
"""

import argparse
import collections
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pypdfium2  # noqa: E402

from library.parsing import ocr  # noqa: E402
from library.parsing.glyphs import normalise_glyphs  # noqa: E402
from library.parsing.layout import Char, page_edges, text_layer_chars  # noqa: E402
from library.parsing.tables import find_tables  # noqa: E402
from tests.library.pdfs import scanned_pdf  # noqa: E402

FOLDERS = [ROOT.parent / "shared" / "datasheets", ROOT.parent / "shared" / "datasheets-extra"]
RESULTS = ROOT / "bench" / "results" / "ocr.json"
TARGET_RECALL = 0.95

_TOKEN = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+")
_NUMBER = re.compile(r"^\d+(?:\.\d+)*$")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise_glyphs(text).casefold())


def found(reference: collections.Counter[str], read: collections.Counter[str]) -> int:
    return sum(min(count, read[token]) for token, count in reference.items())


def visible_chars(page: pypdfium2.PdfPage) -> list[Char]:
    """The page's upright text layer as `layout.page_chars` reads it, less the characters
    that are not drawn where a reader (or OCR) could see them: invisible text, white on
    white, light grey on the same grey. A letter or digit is seen when the middle of its
    box, rendered, shows contrast."""
    chars = text_layer_chars(page)
    scale = 4.0  # 288 dpi: the stem of a small "l" still shows
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        image = np.array(bitmap.to_numpy(), copy=True).reshape(bitmap.height, bitmap.width)
    finally:
        bitmap.close()
    seen = []
    for char in chars:
        if not char.text.isalnum():  # spaces and punctuation only separate tokens; a "_" has no ink mid-box
            seen.append(char)
            continue
        box = char.box
        x0, x1 = box.x0 + 0.1 * box.width, box.x1 - 0.1 * box.width
        top, bottom = box.top + 0.2 * box.height, box.bottom - 0.2 * box.height
        region = image[
            max(0, int(top * scale)) : max(int(top * scale) + 1, int(bottom * scale)),
            max(0, int(x0 * scale)) : max(int(x0 * scale) + 1, int(x1 * scale)),
        ]
        if region.size and int(region.max()) - int(region.min()) >= 32:
            seen.append(char)
    return seen


def table_numbers(page: pypdfium2.PdfPage, chars: list[Char]) -> list[str]:
    """The numbers in the cells of the page's ruled tables (as the layout parsing finds
    them), each cell once."""
    width, height = page.get_size()
    tables = find_tables(chars, page_edges(page, height), width, height)
    cells = {cell.box: cell.text for table in tables for band in table.bands for cell in band}
    return [token for text in cells.values() for token in tokens(text) if _NUMBER.match(token)]


def select_pages() -> list[tuple[Path, int]]:
    """Each datasheet's first page and its page with the most numbers in table rows."""
    chosen: list[tuple[Path, int]] = []
    for path in sorted(path for folder in FOLDERS for path in folder.glob("*.pdf")):
        pdf = pypdfium2.PdfDocument(str(path))
        try:
            counts = {}
            for index in range(1, len(pdf)):
                page = pdf[index]
                counts[index + 1] = len(table_numbers(page, visible_chars(page)))
                page.close()
        finally:
            pdf.close()
        chosen.append((path, 1))
        best = max(counts, key=lambda number: (counts[number], -number), default=None)
        if best is not None and counts[best] > 0:
            chosen.append((path, best))
    return chosen


def reference(path: Path, number: int) -> tuple[str, list[str]]:
    """The page's visible upright text layer and the numbers of its tables' cells."""
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        page = pdf[number - 1]
        chars = visible_chars(page)
        return "".join(char.text for char in chars), table_numbers(page, chars)
    finally:
        pdf.close()


def accuracy(pages: list[tuple[Path, int]], scan_dpi: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    word_total = word_found = number_total = number_found = 0
    seconds = 0.0
    misses: collections.Counter[str] = collections.Counter()
    number_misses: list[str] = []
    ocr.ocr_engine()  # loaded once, outside the timings
    for path, number in pages:
        text, numbers = reference(path, number)
        scan = pypdfium2.PdfDocument(scanned_pdf([(path, number)], dpi=scan_dpi))
        try:
            page = scan[0]
            read = ocr.ocr_page(page, number, timeout_s=None)
            page.close()
        finally:
            scan.close()
        expected = collections.Counter(tokens(text))
        got = collections.Counter(tokens(read.text))
        # A merged cell is one cell per column it spans in the table parsing, but one number
        # on the page: a number counts at most as often as the page's text has it.
        wanted_numbers = collections.Counter(numbers) & expected
        page_words = found(expected, got)
        page_numbers = found(wanted_numbers, got)
        word_total += sum(expected.values())
        word_found += page_words
        number_total += sum(wanted_numbers.values())
        number_found += page_numbers
        seconds += read.seconds
        misses.update(expected - got)
        number_misses += [f"{path.stem} p{number}: {token}" for token in (wanted_numbers - got).elements()]
        row = {
            "datasheet": path.name,
            "page": number,
            "words": sum(expected.values()),
            "word_recall": round(page_words / max(sum(expected.values()), 1), 4),
            "table_numbers": sum(wanted_numbers.values()),
            "table_numbers_exact": page_numbers,
            "seconds": round(read.seconds, 2),
        }
        rows.append(row)
        print(
            f"  {path.name:34} p{number:<3} words {row['words']:5}  recall {row['word_recall']:.3f}"
            f"  table numbers {page_numbers:3}/{sum(wanted_numbers.values()):<3}  {read.seconds:5.1f} s",
            flush=True,
        )
    return {
        "pages": rows,
        "word_recall": round(word_found / max(word_total, 1), 4),
        "worst_page_recall": min(row["word_recall"] for row in rows),
        "words": word_total,
        "table_numbers": number_total,
        "table_numbers_exact": number_found,
        "table_numbers_exact_share": round(number_found / max(number_total, 1), 4),
        "table_number_misses": number_misses,
        "most_missed_words": misses.most_common(20),
        "seconds": round(seconds, 1),
        "pages_per_second": round(len(rows) / seconds, 3),
    }


_MEMORY_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
import psutil, pypdfium2
from library.parsing import ocr
process = psutil.Process()
ocr.ocr_engine()
loaded = process.memory_info().rss
pdf = pypdfium2.PdfDocument(sys.argv[1])
samples = []
started = time.monotonic()
for index in range(len(pdf)):
    page = pdf[index]
    ocr.ocr_page(page, index + 1, timeout_s=None)
    page.close()
    if index == 0 or (index + 1) % 10 == 0:
        samples.append({"pages": index + 1, "rss_mb": round(process.memory_info().rss / 2**20, 1)})
pdf.close()
print(json.dumps({
    "pages": len(samples) and samples[-1]["pages"],
    "seconds": round(time.monotonic() - started, 1),
    "rss_after_engine_mb": round(loaded / 2**20, 1),
    "rss_samples": samples,
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
}))
"""


def memory(pages: list[tuple[Path, int]], count: int, scan_dpi: int) -> dict[str, Any]:
    """Peak RSS of a fresh process reading a `count`-page scan, page by page."""
    repeated = [pages[index % len(pages)] for index in range(count)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scan.pdf"
        path.write_bytes(scanned_pdf(repeated, dpi=scan_dpi))
        size_mb = path.stat().st_size / 2**20
        result = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, str(path), str(ROOT)],
            capture_output=True,
            text=True,
            check=True,
        )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["scan_mb"] = round(size_mb, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scan-dpi", type=int, default=300, help="resolution the scans are made at")
    parser.add_argument("--memory-pages", type=int, default=100, help="pages of the memory run (0: skip it)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    pages = select_pages()
    print(f"{len(pages)} pages of {len({path for path, _ in pages})} datasheets, scanned at {args.scan_dpi} dpi")
    figures = accuracy(pages, args.scan_dpi)
    memory_figures = memory(pages, args.memory_pages, args.scan_dpi) if args.memory_pages else {}
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "ocr_threads": ocr.configured_threads(),
            "load_average_at_start": round(load, 2),
            "python": platform.python_version(),
        },
        "settings": {"scan_dpi": args.scan_dpi, "ocr_dpi": ocr.DEFAULT_DPI, "word_gap": ocr.WORD_GAP},
        "accuracy": figures,
        "memory": memory_figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(f"{'measure':42} {'value':>12}  target")
    print(f"{'word recall (multiset, pooled)':42} {figures['word_recall']:>12.4f}  ≥ {TARGET_RECALL}")
    print(f"{'worst page word recall':42} {figures['worst_page_recall']:>12.4f}")
    exact = f"{figures['table_numbers_exact']}/{figures['table_numbers']}"
    print(f"{'table numbers read exactly':42} {exact:>12}  all")
    print(f"{'OCR pages/s (' + str(ocr.configured_threads()) + ' threads)':42} {figures['pages_per_second']:>12.3f}")
    if memory_figures:
        pages_read = memory_figures["pages"]
        print(f"{'peak RSS, ' + str(pages_read) + '-page scan (MB)':42} {memory_figures['peak_rss_mb']:>12}  bounded")
        after_first = memory_figures["rss_samples"][0]["rss_mb"]
        last = memory_figures["rss_samples"][-1]["rss_mb"]
        print(f"{'RSS after page 1 → after the last (MB)':42} {f'{after_first} → {last}':>12}")
    if figures["table_number_misses"]:
        print("table numbers missed:", ", ".join(figures["table_number_misses"]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
