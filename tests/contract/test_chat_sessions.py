"""GET /chat/sessions/ — every documented field, the null-when-unlimited rule, and its examples."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from chat.admission import hold_acquire
from core import clock
from orgs.services import api_key_create, api_key_revoke

FIELDS = {"total_sessions", "used_sessions", "available_sessions", "active_user_ids"}


def seat(org, user_id: str) -> None:
    hold_acquire(org=org, holder="key:elsewhere", user_id=user_id)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/chat/sessions/", "/chat/sessions"])
def test_the_endpoint_answers_with_and_without_the_trailing_slash(api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == FIELDS


@pytest.mark.django_db
def test_the_limited_example_response(api, org) -> None:
    org.max_sessions = 10
    org.save()
    for user_id in ("usr_82af91", "usr_d4f012", "usr_7ba3ee"):
        seat(org, user_id)
    assert api.get("/chat/sessions/").json() == {
        "total_sessions": 10,
        "used_sessions": 3,
        "available_sessions": 7,
        "active_user_ids": ["usr_7ba3ee", "usr_82af91", "usr_d4f012"],
    }


@pytest.mark.django_db
def test_the_unlimited_example_response_has_null_total_and_available(api, org) -> None:
    seat(org, "usr_82af91")
    assert api.get("/chat/sessions/").json() == {
        "total_sessions": None,
        "used_sessions": 1,
        "available_sessions": None,
        "active_user_ids": ["usr_82af91"],
    }


@pytest.mark.django_db
def test_an_org_with_no_activity_reports_zero_used(api, org) -> None:
    org.max_sessions = 4
    org.save()
    assert api.get("/chat/sessions/").json() == {
        "total_sessions": 4,
        "used_sessions": 0,
        "available_sessions": 4,
        "active_user_ids": [],
    }


@pytest.mark.django_db
def test_a_user_stops_counting_five_minutes_after_its_last_message(api, org) -> None:
    org.max_sessions = 2
    org.save()
    seat(org, "early")
    clock.advance(120)
    seat(org, "late")
    clock.advance(settings.SEAT_WINDOW_SECONDS - 120 + 1)
    body = api.get("/chat/sessions/").json()
    assert body == {"total_sessions": 2, "used_sessions": 1, "available_sessions": 1, "active_user_ids": ["late"]}


@pytest.mark.django_db
def test_several_messages_of_one_user_count_as_one_session(api, org, issued_key) -> None:
    from chat.admission import hold_release

    for _ in range(3):
        hold_release(hold_id=hold_acquire(org=org, holder=f"key:{issued_key.api_key.pk}", user_id="usr_82af91"))
    assert api.get("/chat/sessions/").json()["used_sessions"] == 1


@pytest.mark.django_db
def test_another_orgs_key_cannot_count_or_list_this_orgs_users(org, other_org, other_raw_key: str) -> None:
    org.max_sessions = 5
    org.save()
    seat(org, "acme-user")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=other_raw_key)
    assert client.get("/chat/sessions/").json() == {
        "total_sessions": None,
        "used_sessions": 0,
        "available_sessions": None,
        "active_user_ids": [],
    }


@pytest.mark.django_db
def test_missing_unknown_or_revoked_keys_get_401(org) -> None:
    issued = api_key_create(org=org)
    api_key_revoke(api_key=issued.api_key)
    for headers in ({}, {"X-API-KEY": "junk"}, {"X-API-KEY": issued.raw_key}):
        response = APIClient().get("/chat/sessions/", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "authentication_failed"
