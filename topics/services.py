"""Writes for topics."""

from django.db import IntegrityError, transaction

from core.errors import Conflict, InvalidRequest
from orgs.models import Organization
from topics.models import Topic


def topic_create(*, org: Organization, name: str, description: str = "") -> Topic:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidRequest("A topic name needs 1 to 100 characters.")
    if Topic.objects.filter(org=org, name__iexact=name).exists():
        raise Conflict(f"Topic {name!r} already exists in {org.name!r}.")
    try:
        with transaction.atomic():
            return Topic.objects.create(org=org, name=name, description=description)
    except IntegrityError:
        raise Conflict(f"Topic {name!r} already exists in {org.name!r}.") from None
