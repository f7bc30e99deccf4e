"""Reads for topics: listing them and resolving the names a client sends."""

from django.db.models import QuerySet

from core.errors import UnknownTopic
from orgs.models import Organization
from topics.models import Topic


def topic_list(*, org: Organization) -> QuerySet[Topic]:
    return Topic.objects.filter(org=org).order_by("name")


def topics_resolve(*, org: Organization, names: list[str]) -> list[Topic]:
    """Match names case-insensitively to the org's topics; any unknown name raises UnknownTopic."""
    wanted = {name.strip().lower(): name for name in names}
    found = {topic.name.lower(): topic for topic in Topic.objects.filter(org=org)}
    unknown = [original for lowered, original in wanted.items() if lowered not in found]
    if unknown:
        raise UnknownTopic(unknown)
    return [found[lowered] for lowered in wanted]
