from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from orgs.management.commands._org_arg import org_from_arg
from topics.services import topic_create


class Command(BaseCommand):
    help = "Create a topic NAME in ORG."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("name")
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, org: str, name: str, description: str, **options: Any) -> None:
        try:
            topic = topic_create(org=org_from_arg(org), name=name, description=description)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(topic.name)
