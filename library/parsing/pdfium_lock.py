"""One lock for every call into pdfium in a process.

pdfium is not thread-safe, not even across different documents (pypdfium2's documentation:
concurrent calls crash or corrupt the process). A worker reads pages on a thread of its own
while a web process renders page images on its request threads, so every use of pypdfium2
(opening, reading, rendering, closing) holds `PDFIUM`; what is done with the results (layout
parsing, OCR recognition, PNG encoding) runs outside it.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pypdfium2

PDFIUM = threading.RLock()  # re-entrant: a helper that holds it may call another that takes it


@contextmanager
def pdfium_document(data: bytes) -> Iterator[pypdfium2.PdfDocument]:
    """A PDF opened by pdfium, closed on leaving; both under the lock."""
    with PDFIUM:
        pdf = pypdfium2.PdfDocument(data)
    try:
        yield pdf
    finally:
        with PDFIUM:
            pdf.close()
