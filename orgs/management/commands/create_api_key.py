from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orgs.management.commands._org_arg import org_from_arg
from orgs.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for ORG. The key is printed once, alone on the last line; only its hash is kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("--name", default="", help="A label to recognise the key by.")

    def handle(self, *args: Any, org: str, name: str, **options: Any) -> None:
        issued = api_key_create(org=org_from_arg(org), label=name)
        self.stderr.write(
            f"API key {issued.api_key.prefix} for {issued.api_key.org.name}; store it now, it is not shown again:"
        )
        self.stdout.write(issued.raw_key)
