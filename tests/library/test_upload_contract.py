"""One upload contract on every way in: API, library page, admin and the `ingest` command.

Not a PDF → 415, empty → 400, too large → 413; the same sentence everywhere; nothing stored.
"""

import uuid
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.test import APIClient

from library.models import Document
from library.services import EMPTY_FILE, NOT_A_PDF
from tests.conftest import manage_py
from tests.library.pdfs import sample_pages, text_pdf_bytes

# A way in takes (file name, bytes) and answers (HTTP status or 1 for a failed command, what it printed).
WayIn = Callable[[str, bytes], tuple[int, str]]


@pytest.fixture
def through_api(client_with_key: APIClient) -> WayIn:
    def send(name: str, data: bytes) -> tuple[int, str]:
        upload = SimpleUploadedFile(name, data, content_type="application/pdf")
        response = client_with_key.post("/library/documents/", {"file": upload}, format="multipart")
        body = response.json()
        return response.status_code, f"{body['error']}: {body['message']}"

    return send


@pytest.fixture
def through_library_page(owner) -> WayIn:
    client = Client()
    client.force_login(owner)

    def send(name: str, data: bytes) -> tuple[int, str]:
        upload = SimpleUploadedFile(name, data, content_type="application/pdf")
        response = client.post("/Acme/library/upload", {"files": [upload]})
        return response.status_code, response.content.decode()

    return send


@pytest.fixture
def through_admin(owner, org) -> WayIn:
    client = Client()
    client.force_login(owner)

    def send(name: str, data: bytes) -> tuple[int, str]:
        upload = SimpleUploadedFile(name, data, content_type="application/pdf")
        response = client.post("/admin/library/document/add/", {"org": org.pk, "file": upload, "topics": []})
        return response.status_code, response.content.decode()

    return send


@pytest.fixture
def through_command(org, tmp_path: Path) -> WayIn:
    def send(name: str, data: bytes) -> tuple[int, str]:
        path = tmp_path / name
        path.write_bytes(data)
        out, err = StringIO(), StringIO()
        try:
            call_command("ingest", "Acme", str(path), stdout=out, stderr=err)
        except CommandError as error:
            return 1, f"{err.getvalue()}{error}"
        return 0, out.getvalue()

    return send


WAYS_IN = ["through_api", "through_library_page", "through_admin", "through_command"]


def _too_large() -> bytes:
    return text_pdf_bytes(sample_pages(1)) + b"%" + b"x" * (1024 * 1024 + 10)


CASES = [
    pytest.param(
        lambda: b"Just some notes, not a PDF at all.\n" * 10, 415, "unsupported_media_type", NOT_A_PDF, id="not-a-pdf"
    ),
    pytest.param(lambda: b"", 400, "invalid_request", EMPTY_FILE, id="empty"),
    pytest.param(
        _too_large, 413, "payload_too_large", "The file is larger than the 1 MB this server accepts.", id="too-large"
    ),
]


def _stored_files(name: str) -> list[Path]:
    return list(Path(settings.MEDIA_ROOT).rglob(name))


@pytest.mark.django_db
@pytest.mark.parametrize("way_in", WAYS_IN)
@pytest.mark.parametrize(("make_data", "status", "code", "sentence"), CASES)
def test_every_way_in_refuses_the_same_bad_upload_with_the_same_sentence_and_stores_nothing(
    request, settings, way_in, make_data, status, code, sentence
) -> None:
    settings.MAX_UPLOAD_MB = 1
    name = f"upload-{uuid.uuid4().hex[:12]}.pdf"
    answered, shown = request.getfixturevalue(way_in)(name, make_data())
    if way_in == "through_command":
        assert answered == 1 and "error: " in shown and sentence in shown
        assert "nothing was queued" in shown
    elif way_in == "through_api":
        assert (answered, shown) == (status, f"{code}: {sentence}")
    else:
        assert answered == status and sentence in shown
    assert not Document.objects.exists()
    assert not _stored_files(name)


@pytest.mark.django_db
def test_the_command_checks_every_file_before_storing_any(org, tmp_path: Path) -> None:
    (tmp_path / "good.pdf").write_bytes(text_pdf_bytes(sample_pages(1)))
    (tmp_path / "notes.pdf").write_text("not a pdf")
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("ingest", "Acme", str(tmp_path), stdout=StringIO(), stderr=err)
    assert err.getvalue().strip() == f"error: {tmp_path / 'notes.pdf'}: {NOT_A_PDF}"
    assert str(raised.value) == "1 of 2 files refused; nothing was queued."
    assert not Document.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_with_an_error_line(org, tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_text("not a pdf")
    result = manage_py("ingest", "Acme", str(tmp_path / "notes.pdf"))
    assert result.returncode != 0
    assert f"error: {tmp_path / 'notes.pdf'}: {NOT_A_PDF}" in result.stderr
