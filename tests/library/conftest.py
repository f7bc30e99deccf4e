"""Fixtures of the library tests: upload and ingest in-process, with no broker."""

from collections.abc import Callable
from typing import Any

import pytest

from library.ingest import document_ingest
from library.models import Document
from library.services import document_upload
from tests.library.pdfs import sample_pages, text_pdf_bytes


class Queued(list):
    """Stands in for the broker: records the ids `document_upload` would queue."""

    def __call__(self, document_id: int) -> None:
        self.append(document_id)


@pytest.fixture
def queued() -> Queued:
    return Queued()


@pytest.fixture
def upload(org, queued) -> Callable[..., Document]:
    def _upload(name: str, data: bytes, **kwargs: Any) -> Document:
        return document_upload(org=kwargs.pop("org", org), filename=name, data=data, enqueue=queued, **kwargs).document

    return _upload


def ingest(document: Document) -> Document:
    document_ingest(document_id=document.pk)
    document.refresh_from_db()
    return document


@pytest.fixture
def ready_document(upload) -> Document:
    """A small, already ingested document that bad inputs must leave alone."""
    document = ingest(upload("good.pdf", text_pdf_bytes(sample_pages(3, "good"))))
    assert document.status == Document.Status.READY, document.error
    return document
