"""Reads for chats and floating seats.

The live-seat rule lives here once: a user_id of an org holds a floating seat while its last
qualifying message is less than SEAT_WINDOW_SECONDS old. Admission (chat.services) and
GET /chat/sessions/ both count seats with `seat_window_start`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings

from agent.events import Source, Turn
from chat.models import Chat, Message, Seat
from core import clock
from core.errors import ChatNotFound
from orgs.models import Organization

# Enough context for a follow-up question without sending a whole long thread to the model.
HISTORY_MAX_MESSAGES = 20


@dataclass(frozen=True)
class SeatUsage:
    total_sessions: int | None  # None: the org has no limit
    used_sessions: int
    available_sessions: int | None
    active_user_ids: list[str]


def seat_window_start(*, now: datetime) -> datetime:
    """Seats whose last activity is after this instant are live."""
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


def chat_get_for_user(*, org: Organization, user_id: str, chat_id: UUID) -> Chat:
    """The chat `chat_id` if it belongs to this org and this user_id; anything else is ChatNotFound.

    Another org's chat and another user's chat look exactly like a chat that does not exist.
    """
    chat = Chat.objects.filter(pk=chat_id, org=org, user_id=user_id).first()
    if chat is None:
        raise ChatNotFound()
    return chat


def chat_history(*, chat: Chat) -> list[Turn]:
    """The thread so far, oldest first, as the agent sees it: questions and completed answers.

    Failed or interrupted answers are left out so the model never builds on half an answer.
    """
    rows = list(
        Message.objects.filter(chat=chat)
        .exclude(role=Message.Role.ASSISTANT, status__in=[Message.Status.FAILED, Message.Status.ABORTED])
        .order_by("-created_at", "-id")
        .values("role", "content", "sources")[:HISTORY_MAX_MESSAGES]
    )
    rows.reverse()
    return [
        Turn(
            role="assistant" if row["role"] == Message.Role.ASSISTANT else "user",
            content=row["content"],
            sources=tuple(_source(item) for item in row["sources"] or []),
        )
        for row in rows
    ]


def _source(item: dict) -> Source:
    return Source(
        source_name=item["source_name"],
        page=int(item["page"]),
        document_id=int(item.get("document_id") or 0),
        chunk_ids=tuple(item.get("chunk_ids") or ()),
        passages=tuple(item.get("passages") or ()),
    )
