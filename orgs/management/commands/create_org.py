from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from orgs.services import org_create


class Command(BaseCommand):
    help = "Create an organization. Without --max-sessions its floating seats are unlimited."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--max-sessions", type=int, default=None, help="Floating seats (default: unlimited).")

    def handle(self, *args: Any, name: str, max_sessions: int | None, **options: Any) -> None:
        try:
            org = org_create(name=name, max_sessions=max_sessions)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(org.name)
