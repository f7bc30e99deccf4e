"""What a clean, sequential ingest of a PDF stores, computed without the pipelined worker."""

import pypdfium2

from library.parsing.chunking import chunk_page
from library.parsing.page_reader import OcrOptions, PageReader
from library.parsing.pdf_text import open_pdf, strip_running_headers


def sequential_chunks(data: bytes) -> list[tuple[int, str]]:
    """(page, text) of each chunk, in ordinal order."""
    reader = open_pdf(data)
    pdf = pypdfium2.PdfDocument(data)
    try:
        page_reader = PageReader(pdf, reader, OcrOptions())
        pages = strip_running_headers([page_reader.read(i).text for i in range(len(reader.pages))])
    finally:
        pdf.close()
    return [(d.page, d.text) for n, text in enumerate(pages, start=1) for d in chunk_page(n, text)]
