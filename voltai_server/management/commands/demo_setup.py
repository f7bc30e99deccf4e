import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from core.errors import ApplicationError
from library.services import document_upload
from orgs.models import Organization
from orgs.services import api_key_create, member_create, org_create
from topics.services import topic_create

SAMPLE_QUESTION = "What is the I2C address of the BME280?"


class Command(BaseCommand):
    help = "On an empty server: create a demo organization, topic, API key and admin login, and print them."

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.exists():
            names = ", ".join(Organization.objects.values_list("name", flat=True)[:5])
            self.stdout.write(f"Organizations already exist ({names}); no demo data created.")
            self.stdout.write("Make a key with: .venv/bin/python manage.py create_api_key ORG --name NAME")
            return
        org = org_create(name="demo", max_sessions=None)
        topic = topic_create(org=org, name="Datasheets", description="Demo datasheets")
        queued = self._queue_demo_datasheets(org, topic)
        issued = api_key_create(org=org, label="demo")
        password = secrets.token_urlsafe(12)
        member_create(org=org, username="admin", password=password, admin=True)
        base = settings.APP_BASE_URL
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Demo organization created",
                    "  organization: demo",
                    f"  API key:      {issued.raw_key}",
                    f"  web login:    admin / {password}   ({base}/accounts/login/)",
                    "",
                    "Ask a question:",
                    f"  curl -s {base}/chat/query/ -H 'X-API-KEY: {issued.raw_key}' \\",
                    "    -H 'Content-Type: application/json' \\",
                    f'    -d \'{{"query": "{SAMPLE_QUESTION}", "user_id": "me"}}\'',
                    "",
                    queued,
                    "Add datasheets: .venv/bin/python manage.py ingest demo path/to/pdfs --topic Datasheets",
                    "",
                ]
            )
        )

    def _queue_demo_datasheets(self, org: Organization, topic: Any) -> str:
        """Queue the PDFs of DEMO_DATASHEETS (if that folder exists), the sample question's part first."""
        folder = Path(settings.DEMO_DATASHEETS) if settings.DEMO_DATASHEETS else None
        if folder is None or not folder.is_dir():
            return "No demo datasheets (DEMO_DATASHEETS is not a folder): the sample question finds nothing yet."
        paths = sorted(folder.glob("*.pdf"), key=lambda path: ("bme280" not in path.name.lower(), path.name))
        for path in paths:
            try:
                document_upload(org=org, filename=path.name, data=path.read_bytes(), topics=[topic])
            except ApplicationError as error:
                self.stderr.write(f"error: {path}: {error.message}")
        return f"Queued {len(paths)} demo datasheets from {folder}; the worker ingests them in the background."
