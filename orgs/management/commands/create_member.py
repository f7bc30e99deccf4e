from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from orgs.management.commands._org_arg import org_from_arg
from orgs.services import member_create


class Command(BaseCommand):
    help = "Create a web login USERNAME as a member (or, with --admin, an admin) of ORG."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--admin", action="store_true", help="May upload documents and use the admin site.")

    def handle(self, *args: Any, org: str, username: str, password: str, admin: bool, **options: Any) -> None:
        try:
            membership = member_create(org=org_from_arg(org), username=username, password=password, admin=admin)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{membership.user.get_username()} is now {membership.role} of {membership.org.name}")
