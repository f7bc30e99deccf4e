"""`manage.py ingest ORG PATH... [--topic NAME] [--wait]`."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from library.models import Document
from tests.conftest import manage_py
from tests.library.pdfs import image_only_pdf, sample_pages, text_pdf_bytes
from topics.services import topic_create


def run(*args: str) -> str:
    out = StringIO()
    call_command("ingest", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.pdf").write_bytes(text_pdf_bytes(sample_pages(2, "a")))
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "B.PDF").write_bytes(text_pdf_bytes(sample_pages(2, "b")))
    (tmp_path / "notes.txt").write_text("not a datasheet")
    return tmp_path


@pytest.mark.django_db
def test_it_queues_the_pdfs_of_a_folder_under_a_topic(org, folder) -> None:
    topic_create(org=org, name="Sensors")
    out = run("Acme", str(folder), "--topic", "sensors")
    assert "queued: a.pdf" in out and "queued: B.PDF" in out
    documents = Document.objects.filter(org=org).order_by("source_name")
    assert [d.source_name for d in documents] == ["B.PDF", "a.pdf"]
    assert all(d.status == "queued" and [t.name for t in d.topics.all()] == ["Sensors"] for d in documents)


@pytest.mark.django_db
def test_it_says_when_a_file_is_already_in_the_library(org, folder) -> None:
    run("Acme", str(folder / "a.pdf"))
    assert "already in the library: a.pdf" in run("Acme", str(folder / "a.pdf"))
    assert Document.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Nope", "{folder}"], "No organization named 'Nope'."),
        (["Acme", "{folder}", "--topic", "Nope"], "No topic in this organization matches 'Nope'."),
        (["Acme", "{folder}/missing.pdf"], "No such file or folder: {folder}/missing.pdf"),
        (["Acme", "{folder}/nested/empty"], "No PDF files in the folder {folder}/nested/empty."),
    ],
)
def test_it_refuses_bad_arguments_with_one_clear_line(org, folder, args, message) -> None:
    (folder / "nested" / "empty").mkdir()
    with pytest.raises(CommandError) as raised:
        run(*[arg.format(folder=folder) for arg in args])
    assert str(raised.value) == message.format(folder=folder)
    assert not Document.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_wait_shows_progress_and_exits_non_zero_when_a_document_failed(org, tmp_path) -> None:
    (tmp_path / "good.pdf").write_bytes(text_pdf_bytes(sample_pages(3)))
    (tmp_path / "scan.pdf").write_bytes(image_only_pdf(pages=2))
    # Eager tasks: the command's own process ingests, so no worker is needed for this test.
    result = manage_py(
        "ingest", "Acme", str(tmp_path), "--wait", timeout=300, CELERY_TASK_ALWAYS_EAGER="true", OCR="off"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ready: good.pdf (3 pages)" in result.stdout
    assert "failed: scan.pdf: No extractable text" in result.stdout
    assert "[" + "#" * 30 + "] 2/2 done" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "CommandError: 1 of 2 documents failed."


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_wait_exits_zero_when_everything_is_ready(org, tmp_path) -> None:
    (tmp_path / "good.pdf").write_bytes(text_pdf_bytes(sample_pages(2)))
    good = str(tmp_path / "good.pdf")
    result = manage_py("ingest", "Acme", good, "--wait", timeout=300, CELERY_TASK_ALWAYS_EAGER="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ready: good.pdf (2 pages)" in result.stdout
