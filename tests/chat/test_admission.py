"""Admission: one request in flight per (org, holder, user_id), floating seats per org.

The clock is moved with core.clock.advance, the same clock every server process reads.
"""

import pytest
from django.conf import settings

from chat.admission import hold_acquire, hold_extend, hold_release, seat_usage
from chat.models import RequestHold, Seat
from core import clock
from core.errors import SeatsExhausted, UserBusy

KEY = "key:1"


def limit(org, seats: int | None):
    org.max_sessions = seats
    org.save(update_fields=["max_sessions"])
    return org


@pytest.mark.django_db
def test_second_request_for_the_same_user_is_refused_with_the_contract_message(org) -> None:
    hold_acquire(org=org, holder=KEY, user_id="usr_82af91")
    with pytest.raises(UserBusy) as refused:
        hold_acquire(org=org, holder=KEY, user_id="usr_82af91")
    assert refused.value.payload() == {
        "error": "user_session_limit_exceeded",
        "message": "user_id 'usr_82af91' already has an active request. Please wait for it to complete.",
        "user_id": "usr_82af91",
    }
    assert refused.value.http_status == 429


@pytest.mark.django_db
def test_other_users_other_keys_and_other_orgs_are_not_blocked_by_a_hold(org, other_org) -> None:
    hold_acquire(org=org, holder=KEY, user_id="alice")
    hold_acquire(org=org, holder=KEY, user_id="bob")
    hold_acquire(org=org, holder="key:2", user_id="alice")
    hold_acquire(org=other_org, holder="web:7", user_id="alice")
    hold_acquire(org=org, holder="web:7", user_id="alice")
    assert RequestHold.objects.count() == 5


@pytest.mark.django_db
def test_a_released_hold_admits_the_next_request(org) -> None:
    hold_id = hold_acquire(org=org, holder=KEY, user_id="alice")
    hold_release(hold_id=hold_id)
    hold_acquire(org=org, holder=KEY, user_id="alice")


@pytest.mark.django_db
def test_a_hold_left_by_a_dead_request_expires_by_itself(org) -> None:
    hold_acquire(org=org, holder=KEY, user_id="alice")
    clock.advance(settings.HOLD_TTL_SECONDS - 1)
    with pytest.raises(UserBusy):
        hold_acquire(org=org, holder=KEY, user_id="alice")
    clock.advance(2)
    new_id = hold_acquire(org=org, holder=KEY, user_id="alice")
    assert list(RequestHold.objects.values_list("pk", flat=True)) == [new_id]


@pytest.mark.django_db
def test_releasing_an_expired_hold_never_frees_the_hold_that_replaced_it(org) -> None:
    old_id = hold_acquire(org=org, holder=KEY, user_id="alice")
    clock.advance(settings.HOLD_TTL_SECONDS + 1)
    hold_acquire(org=org, holder=KEY, user_id="alice")
    hold_release(hold_id=old_id)  # the old request finally finishes
    with pytest.raises(UserBusy):
        hold_acquire(org=org, holder=KEY, user_id="alice")


@pytest.mark.django_db
def test_extending_a_hold_keeps_a_long_answer_exclusive(org) -> None:
    hold_id = hold_acquire(org=org, holder=KEY, user_id="alice")
    clock.advance(settings.HOLD_TTL_SECONDS - 10)
    hold_extend(hold_id=hold_id)
    clock.advance(20)
    with pytest.raises(UserBusy):
        hold_acquire(org=org, holder=KEY, user_id="alice")


@pytest.mark.django_db
def test_a_new_user_is_refused_when_every_seat_is_held_with_the_contract_fields(org) -> None:
    limit(org, 2)
    for user_id in ("alice", "bob"):
        hold_release(hold_id=hold_acquire(org=org, holder=KEY, user_id=user_id))
    with pytest.raises(SeatsExhausted) as refused:
        hold_acquire(org=org, holder=KEY, user_id="carol")
    assert refused.value.payload() == {
        "error": "session_limit_exceeded",
        "message": "You have exceeded the session quota limit for your organization. Please try again later.",
        "total_seats": 2,
        "active_seats": 2,
        "available_seats": 0,
    }
    assert refused.value.http_status == 429


@pytest.mark.django_db
def test_a_refused_request_records_neither_hold_nor_seat(org) -> None:
    limit(org, 1)
    hold_acquire(org=org, holder=KEY, user_id="alice")
    with pytest.raises(SeatsExhausted):
        hold_acquire(org=org, holder=KEY, user_id="bob")
    with pytest.raises(UserBusy):
        hold_acquire(org=org, holder=KEY, user_id="alice")
    assert list(RequestHold.objects.values_list("user_id", flat=True)) == ["alice"]
    assert list(Seat.objects.values_list("user_id", flat=True)) == ["alice"]


@pytest.mark.django_db
def test_a_seated_user_keeps_asking_when_every_seat_is_held(org) -> None:
    limit(org, 1)
    hold_release(hold_id=hold_acquire(org=org, holder=KEY, user_id="alice"))
    clock.advance(60)
    hold_release(hold_id=hold_acquire(org=org, holder="key:2", user_id="alice"))
    assert seat_usage(org=org).used_sessions == 1


@pytest.mark.django_db
def test_seats_free_up_five_minutes_after_the_last_message(org) -> None:
    limit(org, 1)
    hold_release(hold_id=hold_acquire(org=org, holder=KEY, user_id="alice"))
    clock.advance(200)
    hold_release(hold_id=hold_acquire(org=org, holder=KEY, user_id="alice"))  # slides the window
    clock.advance(200)  # 400 s after the first message, 200 s after the last
    with pytest.raises(SeatsExhausted):
        hold_acquire(org=org, holder=KEY, user_id="bob")
    assert seat_usage(org=org).active_user_ids == ["alice"]
    clock.advance(101)  # 301 s after the last
    assert seat_usage(org=org).used_sessions == 0
    hold_acquire(org=org, holder=KEY, user_id="bob")
    assert seat_usage(org=org).active_user_ids == ["bob"]


@pytest.mark.django_db
def test_an_unlimited_org_admits_any_number_of_users_and_reports_null_limits(org) -> None:
    for n in range(25):
        hold_acquire(org=org, holder=KEY, user_id=f"user-{n:02d}")
    usage = seat_usage(org=org)
    assert usage.total_sessions is None
    assert usage.available_sessions is None
    assert usage.used_sessions == 25
    assert usage.active_user_ids == sorted(f"user-{n:02d}" for n in range(25))


@pytest.mark.django_db
def test_seat_usage_counts_only_this_orgs_seats_and_sorts_user_ids(org, other_org) -> None:
    limit(org, 5)
    for user_id in ("zed", "amy", "Mia"):
        hold_acquire(org=org, holder=KEY, user_id=user_id)
    hold_acquire(org=other_org, holder="key:9", user_id="outsider")
    usage = seat_usage(org=org)
    assert (usage.total_sessions, usage.used_sessions, usage.available_sessions) == (5, 3, 2)
    assert usage.active_user_ids == ["Mia", "amy", "zed"]
    assert seat_usage(org=other_org).active_user_ids == ["outsider"]


@pytest.mark.django_db
def test_seats_of_another_org_never_fill_this_orgs_limit(org, other_org) -> None:
    limit(org, 1)
    for n in range(3):
        hold_acquire(org=other_org, holder="key:9", user_id=f"outsider-{n}")
    hold_acquire(org=org, holder=KEY, user_id="alice")


@pytest.mark.django_db
def test_lowering_the_limit_below_the_usage_reports_zero_available(org) -> None:
    limit(org, 3)
    for user_id in ("a", "b", "c"):
        hold_acquire(org=org, holder=KEY, user_id=user_id)
    limit(org, 2)
    usage = seat_usage(org=org)
    assert (usage.total_sessions, usage.used_sessions, usage.available_sessions) == (2, 3, 0)
    with pytest.raises(SeatsExhausted) as refused:
        hold_acquire(org=org, holder=KEY, user_id="d")
    assert refused.value.payload()["available_seats"] == 0
