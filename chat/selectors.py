"""Reads for chats: one thread, its history as the agent sees it, and the org's threads.

Seats and holds are chat.admission.
"""

from uuid import UUID

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from agent.events import Turn
from chat.models import Chat, Message
from core.errors import ChatNotFound
from library.search import CitedPage
from orgs.models import Organization

# Enough context for a follow-up question without sending a whole long thread to the model.
HISTORY_MAX_MESSAGES = 20


def chat_get_for_user(*, org: Organization, user_id: str, chat_id: UUID) -> Chat:
    """The chat `chat_id` if it belongs to this org and this user_id; anything else is ChatNotFound.

    Another org's chat and another user's chat look exactly like a chat that does not exist.
    """
    chat = Chat.objects.filter(pk=chat_id, org=org, user_id=user_id).first()
    if chat is None:
        raise ChatNotFound()
    return chat


def chat_get(*, org: Organization, chat_id: UUID) -> Chat | None:
    """One of the org's threads, whoever asked in it (the web pages show every thread of the org)."""
    return Chat.objects.filter(org=org, pk=chat_id).first()


def chat_threads(*, org: Organization, user_id: str = "", text: str = "") -> QuerySet[Chat]:
    """The org's threads, newest first, whose user_id contains `user_id` and whose title or a
    message contains `text`; each with its number of questions and the mode of its last answer."""
    chats = Chat.objects.filter(org=org)
    if user_id:
        chats = chats.filter(user_id__icontains=user_id)
    if text:
        mentions = Message.objects.filter(chat=OuterRef("pk"), content__icontains=text)
        chats = chats.filter(Q(title__icontains=text) | Exists(mentions))
    last_answer = Message.objects.filter(chat=OuterRef("pk"), role=Message.Role.ASSISTANT).order_by("-created_at")
    return chats.annotate(
        question_count=Count("messages", filter=Q(messages__role=Message.Role.USER)),
        last_mode=Subquery(last_answer.values("mode")[:1]),
    ).order_by("-updated_at", "-created_at")


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
            sources=tuple(CitedPage.from_stored(item) for item in row["sources"] or []),
        )
        for row in rows
    ]
