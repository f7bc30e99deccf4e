"""`python manage.py ingest ORG PATH... [--topic NAME] [--wait]`: queue PDFs for ingestion."""

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from library.models import Document
from library.progress import document_progress, ingest_worker_last_seen
from library.services import document_upload, upload_check
from orgs.management.commands._org_arg import org_from_arg
from topics.selectors import topics_resolve

_BAR_WIDTH = 30
_POLL_S = 0.5


def pdf_paths(paths: list[str]) -> list[Path]:
    """The files named, and the PDFs inside the folders named (recursively, sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")
            if not inside:
                raise CommandError(f"No PDF files in the folder {raw}.")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"No such file or folder: {raw}")
    return list(dict.fromkeys(found))


class Command(BaseCommand):
    help = (
        "Queue PDFs (files, or folders of PDFs) for ingestion into ORG's library. With --wait, show "
        "progress until each is ready or failed, and exit non-zero if any failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--topic", action="append", default=[], metavar="NAME", help="File under this topic.")
        parser.add_argument("--wait", action="store_true", help="Wait until every document is ready or failed.")

    def handle(self, *args: Any, org: str, paths: list[str], topic: list[str], wait: bool, **options: Any) -> None:
        organization = org_from_arg(org)
        try:
            topics = topics_resolve(org=organization, names=topic) if topic else []
        except ApplicationError as error:
            raise CommandError(error.message) from None
        files = pdf_paths(paths)
        self._check_every_file(files)
        document_ids: list[int] = []
        for path in files:
            try:
                result = document_upload(org=organization, filename=path.name, data=path.read_bytes(), topics=topics)
            except ApplicationError as error:
                raise CommandError(f"{path}: {error.message}") from None
            document = result.document
            document_ids.append(document.pk)
            if not result.queued:
                self.stdout.write(f"already in the library: {document.source_name} (document {document.pk})")
            else:
                version = f", version {document.version}" if document.version > 1 else ""
                self.stdout.write(f"queued: {document.source_name} (document {document.pk}{version})")
        if wait:
            self._wait(document_ids)
        elif any(Document.objects.filter(pk__in=document_ids, status=Document.Status.FAILED)):
            raise CommandError("Some files failed; see above.")

    def _check_every_file(self, files: list[Path]) -> None:
        """The upload contract, for every file before any is stored: a bad one stores nothing."""
        refused = 0
        for path in files:
            with open(path, "rb") as handle:
                head = handle.read(1024)
            try:
                upload_check(size=path.stat().st_size, head=head)
            except ApplicationError as error:
                self.stderr.write(f"error: {path}: {error.message}")
                refused += 1
        if refused:
            raise CommandError(f"{refused} of {len(files)} files refused; nothing was queued.")

    def _wait(self, document_ids: list[int]) -> None:
        interactive = self.stdout.isatty()
        last_line = ""
        while True:
            documents = list(Document.objects.filter(pk__in=document_ids).order_by("pk"))
            finished = [d for d in documents if d.status in (Document.Status.READY, Document.Status.FAILED)]
            active = next((d for d in documents if d not in finished), None)
            line = self._bar(len(finished), len(documents), active)
            if line != last_line:
                if interactive:
                    self.stdout.write(f"\r{line}\x1b[K", ending="")
                    self.stdout.flush()
                else:
                    self.stdout.write(line)
                last_line = line
            if active is None:
                break
            time.sleep(_POLL_S)
        if interactive:
            self.stdout.write("")
        failed = [d for d in documents if d.status == Document.Status.FAILED]
        for document in documents:
            if document.status == Document.Status.READY:
                self.stdout.write(f"ready: {document.source_name} ({document.pages_total} pages)")
            else:
                live = f" (version {document.live_version} stays live)" if document.is_live else ""
                self.stdout.write(f"failed: {document.source_name}: {document.error}{live}")
        if failed:
            raise CommandError(f"{len(failed)} of {len(documents)} documents failed.")

    def _bar(self, finished: int, total: int, active: Document | None) -> str:
        # Pages of the document in progress count towards the bar, so it moves on a long PDF.
        fraction: float = finished
        detail = "done"
        if active is not None:
            progress = document_progress(document=active, worker_last_seen=ingest_worker_last_seen())
            fraction += progress.percent / 100
            detail = f"{active.source_name}: {progress.status_line}"
        filled = round(_BAR_WIDTH * fraction / max(total, 1))
        return f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {finished}/{total} {detail}"
