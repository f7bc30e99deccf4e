"""An org admin sees and edits only their own organization's rows in the Django admin."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chat.models import Chat
from orgs.models import ApiKey
from topics.services import topic_create


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.mark.django_db
def test_an_org_admin_sees_only_their_orgs_topics_keys_and_chats(owner_client, org, other_org, issued_key) -> None:
    topic_create(org=org, name="Mine")
    topic_create(org=other_org, name="Theirs")
    Chat.objects.create(org=org, user_id="our-user")
    Chat.objects.create(org=other_org, user_id="their-user")

    topics = owner_client.get("/admin/topics/topic/")
    assert topics.status_code == 200
    assert "Mine" in topics.text and "Theirs" not in topics.text

    chats = owner_client.get("/admin/chat/chat/")
    assert "our-user" in chats.text and "their-user" not in chats.text

    orgs = owner_client.get("/admin/orgs/organization/")
    assert "Acme" in orgs.text and "Globex" not in orgs.text


@pytest.mark.django_db
def test_an_org_admin_cannot_open_another_orgs_row(owner_client, other_org) -> None:
    theirs = topic_create(org=other_org, name="Theirs")
    response = owner_client.get(f"/admin/topics/topic/{theirs.pk}/change/")
    assert response.status_code in (302, 403, 404)
    assert "Theirs" not in response.text


@pytest.mark.django_db
def test_an_org_admin_can_only_create_rows_in_their_own_org(owner_client, org, other_org) -> None:
    response = owner_client.post("/admin/topics/topic/add/", {"org": other_org.pk, "name": "Sneaky"})
    assert response.status_code == 200  # the form is shown again with an error
    assert not other_org.topics.exists()
    owner_client.post("/admin/topics/topic/add/", {"org": org.pk, "name": "Allowed"})
    assert org.topics.filter(name="Allowed").exists()


@pytest.mark.django_db
def test_an_api_key_made_in_the_admin_is_shown_once_and_stored_hashed(owner_client, org) -> None:
    response = owner_client.post("/admin/orgs/apikey/add/", {"org": org.pk, "label": "from-admin"}, follow=True)
    assert response.status_code == 200
    api_key = ApiKey.objects.get(label="from-admin")
    messages = [str(m) for m in response.context["messages"]]
    raw = next(m.split(": ", 1)[1] for m in messages if "New API key" in m)
    assert raw.startswith("vt_") and api_key.secret_hash not in raw and raw != api_key.secret_hash


@pytest.mark.django_db
def test_a_plain_member_has_no_admin_access(member) -> None:
    client = Client()
    client.force_login(member)
    assert client.get("/admin/topics/topic/").status_code in (302, 403)


@pytest.mark.django_db
def test_a_superuser_sees_every_org(org, other_org) -> None:
    root = get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123")
    client = Client()
    client.force_login(root)
    page = client.get("/admin/orgs/organization/").text
    assert "Acme" in page and "Globex" in page
