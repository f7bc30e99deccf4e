import pytest
from django.db import IntegrityError, transaction

from core.errors import Conflict, UnknownTopic
from topics.models import Topic
from topics.selectors import topics_resolve
from topics.services import topic_create


@pytest.mark.django_db
def test_topic_names_are_unique_per_org_regardless_of_case(org) -> None:
    topic_create(org=org, name="Sensors")
    with pytest.raises(Conflict):
        topic_create(org=org, name="SENSORS")


@pytest.mark.django_db
def test_the_database_itself_refuses_a_case_variant(org) -> None:
    Topic.objects.create(org=org, name="Sensors")
    with pytest.raises(IntegrityError), transaction.atomic():
        Topic.objects.create(org=org, name="sensors")


@pytest.mark.django_db
def test_the_same_name_is_allowed_in_another_org(org, other_org) -> None:
    topic_create(org=org, name="Sensors")
    assert topic_create(org=other_org, name="sensors").org == other_org


@pytest.mark.django_db
def test_resolving_names_is_case_insensitive_and_names_every_unknown_one(org, other_org) -> None:
    sensors = topic_create(org=org, name="Sensors")
    topic_create(org=other_org, name="Power")
    assert topics_resolve(org=org, names=["sEnSoRs"]) == [sensors]
    with pytest.raises(UnknownTopic) as caught:
        topics_resolve(org=org, names=["Sensors", "Power", "Nope"])
    assert caught.value.extra["unknown_topics"] == ["Power", "Nope"]
