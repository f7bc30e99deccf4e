"""Shared by the commands that take an ORG argument."""

from django.core.management.base import CommandError

from orgs.models import Organization
from orgs.selectors import org_get_by_name


def org_from_arg(name: str) -> Organization:
    org = org_get_by_name(name=name)
    if org is None:
        raise CommandError(f"No organization named {name!r}.")
    return org
