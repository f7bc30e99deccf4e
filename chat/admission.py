"""Admission of a question: the hold on its (holder, user_id) and the org's floating seats.

- A hold: one request in flight per (org, holder, user_id); a second gets 429
  `user_session_limit_exceeded` (UserBusy). `holder` names who asks: "key:<ApiKey.pk>" for
  the API, "web:<User.pk>" for the web page.
- A floating seat: a user_id holds one from its first admitted question until
  SEAT_WINDOW_SECONDS pass with no new one; a new user_id when every seat is held gets 429
  `session_limit_exceeded` (SeatsExhausted). GET /chat/sessions/ counts seats the same way.

Both live in PostgreSQL, so the limits hold across any number of server processes; a
crashed request's hold expires by itself after HOLD_TTL_SECONDS.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from chat.models import RequestHold, Seat
from core import clock
from core.errors import ApplicationError, SeatsExhausted, UserBusy
from orgs.models import Organization


@dataclass
class Hold:
    """An admitted request's hold, as a context manager: leaving the block releases it.

    A streamed answer outlives the view that admits it: `hand_over()` gives the hold to the
    stream, which releases it when it ends, and the block then releases it only if it fails.
    Releasing twice is harmless.
    """

    id: int
    released: bool = False
    handed_over: bool = False
    last_extension: float = field(default_factory=time.monotonic)

    def release(self) -> None:
        if not self.released:
            hold_release(hold_id=self.id)
            self.released = True

    def keep_alive(self) -> None:
        """Extend the hold while the answer runs, a third of the TTL at a time: a live answer
        never loses its hold, and a killed one frees it within one TTL."""
        if time.monotonic() - self.last_extension >= settings.HOLD_TTL_SECONDS / 3:
            hold_extend(hold_id=self.id)
            self.last_extension = time.monotonic()

    def hand_over(self) -> Callable[[], None]:
        """Give the hold to a stream; returns what the stream calls to release it."""
        self.handed_over = True
        return self.release

    def __enter__(self) -> "Hold":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None or not self.handed_over:
            self.release()


def admit(*, org: Organization, holder: str, user_id: str) -> Hold:
    """Admit one request for (org, holder, user_id). Raises UserBusy or SeatsExhausted."""
    return Hold(id=hold_acquire(org=org, holder=holder, user_id=user_id))


def hold_acquire(*, org: Organization, holder: str, user_id: str) -> int:
    """Admit one request for (org, holder, user_id); return the hold's id.

    One short transaction that serialises admissions per org (the org row is locked), so the
    limits hold across any number of server processes. Raises UserBusy when a live hold exists
    and SeatsExhausted when this user_id has no live seat and every seat is taken; a refused
    request rolls back and records nothing (it is not activity).
    """
    now = clock.now()
    hold_table = RequestHold._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT max_sessions FROM {Organization._meta.db_table} WHERE id = %s FOR UPDATE", [org.pk])
        row = cursor.fetchone()
        if row is None:
            raise ApplicationError(f"Organization {org.pk} no longer exists.")
        cursor.execute(
            f"DELETE FROM {hold_table} WHERE org_id = %s AND holder = %s AND user_id = %s AND expires_at <= %s",
            [org.pk, holder, user_id, now],
        )
        cursor.execute(
            f"INSERT INTO {hold_table} (org_id, holder, user_id, started_at, expires_at)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (org_id, holder, user_id) DO NOTHING RETURNING id",
            [org.pk, holder, user_id, now, now + timedelta(seconds=settings.HOLD_TTL_SECONDS)],
        )
        inserted = cursor.fetchone()
        if inserted is None:
            cursor.execute(
                f"SELECT max(expires_at) FROM {hold_table} WHERE org_id = %s AND holder = %s AND user_id = %s",
                [org.pk, holder, user_id],
            )
            raise UserBusy(user_id, retry_after=_seconds_until(cursor.fetchone()[0], now))
        if row[0] is not None:
            _check_seat(cursor, org=org, user_id=user_id, max_sessions=row[0], now=now)
        _seat_take(cursor, org=org, user_id=user_id, now=now)
        return int(inserted[0])


def _check_seat(cursor: CursorWrapper, *, org: Organization, user_id: str, max_sessions: int, now: datetime) -> None:
    """Raise SeatsExhausted if this user_id has no live seat and every seat is taken.

    Call inside `hold_acquire`'s transaction, holding the org row's lock.
    """
    seat_table = Seat._meta.db_table
    window_start = seat_window_start(now=now)
    cursor.execute(
        f"SELECT 1 FROM {seat_table} WHERE org_id = %s AND user_id = %s AND last_activity_at > %s",
        [org.pk, user_id, window_start],
    )
    if cursor.fetchone() is not None:
        return
    cursor.execute(
        f"SELECT count(*), min(last_activity_at) FROM {seat_table} WHERE org_id = %s AND last_activity_at > %s",
        [org.pk, window_start],
    )
    active, oldest_activity = cursor.fetchone()
    if active >= max_sessions:
        # The oldest seat is the first that can free up.
        # (An org with no seats at all has none to free: retry after the minimum.)
        window = timedelta(seconds=settings.SEAT_WINDOW_SECONDS)
        frees_at = oldest_activity + window if oldest_activity is not None else None
        raise SeatsExhausted(total_seats=max_sessions, active_seats=active, retry_after=_seconds_until(frees_at, now))


def _seat_take(cursor: CursorWrapper, *, org: Organization, user_id: str, now: datetime) -> None:
    """Record this user_id's activity: its seat is live until SEAT_WINDOW_SECONDS from now."""
    seat_table = Seat._meta.db_table
    cursor.execute(
        f"INSERT INTO {seat_table} (org_id, user_id, last_activity_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (org_id, user_id) DO UPDATE"
        f" SET last_activity_at = GREATEST({seat_table}.last_activity_at, EXCLUDED.last_activity_at)",
        [org.pk, user_id, now],
    )


def _seconds_until(moment: datetime | None, now: datetime) -> int:
    """Whole seconds from now until `moment`, at least 1 (a Retry-After value)."""
    if moment is None:
        return 1
    return max(1, math.ceil((moment - now).total_seconds()))


def hold_release(*, hold_id: int) -> None:
    """Free a hold. Deleting by id never frees a newer hold that replaced an expired one."""
    RequestHold.objects.filter(pk=hold_id).delete()


def hold_extend(*, hold_id: int) -> None:
    """Push a live hold's expiry forward, so a long answer keeps its place."""
    expires_at = clock.now() + timedelta(seconds=settings.HOLD_TTL_SECONDS)
    RequestHold.objects.filter(pk=hold_id).update(expires_at=expires_at)


# --- seats --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatUsage:
    total_sessions: int | None  # None: the org has no limit
    used_sessions: int
    available_sessions: int | None
    active_user_ids: list[str]


def seat_window_start(*, now: datetime) -> datetime:
    """Seats whose last activity is after this instant are live (the one live-seat rule)."""
    return now - timedelta(seconds=settings.SEAT_WINDOW_SECONDS)


def seat_usage(*, org: Organization, now: datetime | None = None) -> SeatUsage:
    """Seat usage of `org`; its `max_sessions` is taken from the instance (load it fresh)."""
    now = now or clock.now()
    total = org.max_sessions
    active = sorted(
        Seat.objects.filter(org=org, last_activity_at__gt=seat_window_start(now=now)).values_list("user_id", flat=True)
    )
    used = len(active)
    return SeatUsage(
        total_sessions=total,
        used_sessions=used,
        available_sessions=None if total is None else max(total - used, 0),
        active_user_ids=active,
    )
