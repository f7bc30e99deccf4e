"""What a clean, sequential ingest of a PDF stores, computed without the pipelined worker."""

from library.parsing.chunking import chunk_page
from library.parsing.page_reader import OcrOptions, PageReader
from library.parsing.pdf_text import open_pdf, strip_running_headers
from library.parsing.pdfium_lock import pdfium_document


def sequential_chunks(data: bytes, *, ocr: bool = True) -> list[tuple[int, str]]:
    """(page, text) of each chunk, in ordinal order (`ocr`: as the OCR setting says)."""
    reader = open_pdf(data)
    with pdfium_document(data) as pdf:
        page_reader = PageReader(pdf, reader, OcrOptions(enabled=ocr))
        texts = [page.text for _index, page in page_reader.read_in_order()]
        for index, page in page_reader.read_again_if_captioned_below().items():
            texts[index] = page.text
        pages = strip_running_headers(texts)
    return [(d.page, d.text) for n, text in enumerate(pages, start=1) for d in chunk_page(n, text)]
