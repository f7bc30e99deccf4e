"""Encrypted PDFs: an empty user password is no protection (they ingest); a real one fails clearly."""

import pytest
from django.test import Client

from library.models import Chunk, Document
from tests.library.conftest import ingest
from tests.library.pdfs import encrypted_pdf

ALGORITHMS = ["RC4-128", "AES-128", "AES-256"]


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_pdf_with_an_empty_user_password_ingests_like_any_other(upload, owner, algorithm) -> None:
    data = encrypted_pdf(user_password="", algorithm=algorithm)
    assert b"/Encrypt" in data
    document = ingest(upload(f"{algorithm}.pdf", data))
    assert document.status == Document.Status.READY, document.error
    assert document.pages_total == 2
    text = " ".join(Chunk.objects.filter(document=document).values_list("text", flat=True))
    assert "MCX900" in text and "0x76" in text

    client = Client()
    client.force_login(owner)
    image = client.get(f"/Acme/library/documents/{document.pk}/pages/1.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_pdf_with_a_real_password_ends_failed_asking_for_an_unprotected_copy(upload, algorithm) -> None:
    document = ingest(upload(f"locked-{algorithm}.pdf", encrypted_pdf(user_password="s3cret", algorithm=algorithm)))
    assert document.status == Document.Status.FAILED
    assert document.error == "This PDF is protected by a password; upload an unprotected copy."
    assert not Chunk.objects.filter(document=document).exists()
