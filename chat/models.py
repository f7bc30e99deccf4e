import uuid

from django.conf import settings
from django.db import models

from agent.events import Mode
from orgs.models import ApiKey, Organization


class Chat(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="chats")
    user_id = models.CharField(max_length=255)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="chats")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["org", "-updated_at"], name="chat_org_updated_idx"),
            models.Index(fields=["org", "user_id"], name="chat_org_user_idx"),
        ]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title or str(self.id)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        ABORTED = "aborted", "Aborted"

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    requested_mode = models.CharField(max_length=8, choices=Mode.choices, blank=True)
    mode = models.CharField(max_length=8, choices=Mode.choices, blank=True, help_text="The mode that ran.")
    sources = models.JSONField(default=list, blank=True)
    topics = models.JSONField(default=list, blank=True, help_text="Names of the topics the answer searched.")
    timings = models.JSONField(default=dict, blank=True)
    steps = models.JSONField(default=list, blank=True, help_text="AGENTIC tool calls, for the thread page.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETE)
    error = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["chat", "created_at"], name="message_chat_created_idx")]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class RequestHold(models.Model):
    """One request in flight for a (holder, user_id) of an org: `holder` is an API key or a web login.

    A hold whose `expires_at` has passed is dead (its request crashed or was killed) and is
    replaced by the next admission; see chat.admission.hold_acquire.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    holder = models.CharField(max_length=64)
    user_id = models.CharField(max_length=255)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        # The org is part of the key: a web login that belongs to two orgs may ask in both at once.
        constraints = [models.UniqueConstraint(fields=["org", "holder", "user_id"], name="hold_org_holder_user_unique")]

    def __str__(self) -> str:
        return f"hold {self.holder}/{self.user_id} until {self.expires_at:%H:%M:%S}"


class Seat(models.Model):
    """A floating seat: a user_id of an org that asked something in the last five minutes."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user_id = models.CharField(max_length=255)
    last_activity_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user_id"], name="seat_org_user_unique")]
        indexes = [models.Index(fields=["org", "last_activity_at"], name="seat_org_activity_idx")]

    def __str__(self) -> str:
        return f"seat {self.user_id} (last active {self.last_activity_at:%H:%M:%S})"
