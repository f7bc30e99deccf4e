import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from orgs.models import Organization
from orgs.services import api_key_create, member_create, org_create
from topics.services import topic_create


class Command(BaseCommand):
    help = "On an empty server: create a demo organization, topic, API key and admin login, and print them."

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.exists():
            names = ", ".join(Organization.objects.values_list("name", flat=True)[:5])
            self.stdout.write(f"Organizations already exist ({names}); no demo data created.")
            self.stdout.write("Make a key with: .venv/bin/python manage.py create_api_key ORG --name NAME")
            return
        org = org_create(name="demo", max_sessions=None)
        topic_create(org=org, name="Datasheets", description="Demo datasheets")
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
                    '    -d \'{"query": "What is the I2C address of the BME280?", "user_id": "me"}\'',
                    "",
                    "Add datasheets: .venv/bin/python manage.py ingest demo path/to/pdfs --topic Datasheets",
                    "",
                ]
            )
        )
