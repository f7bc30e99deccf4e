"""Per-user and seat limits against a live server with several worker processes.

The fake model holds every admitted request in flight (`llm.hold()`), so the
requests that arrive together really overlap, whichever worker process takes them.
"""

import functools

import pytest
from django.conf import settings

from chat.models import RequestHold
from core import clock
from tests.chat.live import ask, sessions, together, wait_until_done

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BUSY_MESSAGE = "user_id 'usr_82af91' already has an active request. Please wait for it to complete."
SEATS_MESSAGE = "You have exceeded the session quota limit for your organization. Please try again later."


def test_eight_simultaneous_requests_for_one_user_admit_exactly_one(server, llm, org, raw_key) -> None:
    llm.hold()
    before = len(llm.requests)
    futures = together([lambda: ask(server, raw_key, "usr_82af91") for _ in range(8)])
    wait_until_done(futures, 7)
    llm.wait_for_held(1)
    refused = [future.result() for future in futures if future.done()]
    assert len(refused) == 7
    for response in refused:
        assert response.status_code == 429
        assert response.json() == {
            "error": "user_session_limit_exceeded",
            "message": BUSY_MESSAGE,
            "user_id": "usr_82af91",
        }
    assert sessions(server, raw_key) == {
        "total_sessions": None,
        "used_sessions": 1,
        "available_sessions": None,
        "active_user_ids": ["usr_82af91"],
    }
    llm.release()
    wait_until_done(futures, 8)
    admitted = [future.result() for future in futures if future.result().status_code != 429]
    assert [response.status_code for response in admitted] == [200]
    assert len(llm.requests) - before == 1  # the refused requests never reached the model
    assert RequestHold.objects.count() == 0
    assert ask(server, raw_key, "usr_82af91").status_code == 200  # free again once answered


def test_with_three_seats_ten_new_users_at_once_admit_exactly_three(server, llm, org, raw_key) -> None:
    org.max_sessions = 3
    org.save()
    llm.hold()
    users = [f"usr_{n:02d}" for n in range(10)]
    futures = together([functools.partial(ask, server, raw_key, user) for user in users])
    wait_until_done(futures, 7)
    llm.wait_for_held(3)
    refused = {user for user, future in zip(users, futures, strict=True) if future.done()}
    admitted = sorted(set(users) - refused)
    assert len(refused) == 7 and len(admitted) == 3
    for user, future in zip(users, futures, strict=True):
        if user in refused:
            assert future.result().status_code == 429
            assert future.result().json() == {
                "error": "session_limit_exceeded",
                "message": SEATS_MESSAGE,
                "total_seats": 3,
                "active_seats": 3,
                "available_seats": 0,
            }
    in_flight = {"total_sessions": 3, "used_sessions": 3, "available_sessions": 0, "active_user_ids": admitted}
    assert sessions(server, raw_key) == in_flight

    llm.release()
    wait_until_done(futures, 10)
    for user, future in zip(users, futures, strict=True):
        if user in admitted:
            assert future.result().status_code == 200
    assert sessions(server, raw_key) == in_flight  # answered, but the seats last five minutes

    newcomer = ask(server, raw_key, "usr_newcomer")
    assert newcomer.status_code == 429 and newcomer.json()["error"] == "session_limit_exceeded"
    assert ask(server, raw_key, admitted[0]).status_code == 200  # a seated user keeps asking
    assert sessions(server, raw_key) == in_flight

    clock.advance(settings.SEAT_WINDOW_SECONDS + 1)
    assert sessions(server, raw_key) == {
        "total_sessions": 3,
        "used_sessions": 0,
        "available_sessions": 3,
        "active_user_ids": [],
    }
    assert ask(server, raw_key, "usr_newcomer").status_code == 200
    assert sessions(server, raw_key) == {
        "total_sessions": 3,
        "used_sessions": 1,
        "available_sessions": 2,
        "active_user_ids": ["usr_newcomer"],
    }


def test_a_hold_left_by_a_request_that_died_expires_and_frees_the_user(server, llm, org, issued_key, raw_key) -> None:
    from chat.admission import hold_acquire

    hold_acquire(org=org, holder=f"key:{issued_key.api_key.pk}", user_id="usr_crashed")  # never released
    assert ask(server, raw_key, "usr_crashed").status_code == 429
    clock.advance(settings.HOLD_TTL_SECONDS + 1)
    assert ask(server, raw_key, "usr_crashed").status_code == 200


def test_another_orgs_key_sees_none_of_this_orgs_users(server, llm, org, raw_key, other_raw_key) -> None:
    assert ask(server, raw_key, "usr_acme").status_code == 200
    assert sessions(server, other_raw_key)["active_user_ids"] == []
    assert sessions(server, raw_key)["active_user_ids"] == ["usr_acme"]
