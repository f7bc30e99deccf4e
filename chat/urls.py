"""API routes of the chat app (mounted at /chat/). APPEND_SLASH is off, so both spellings route."""

from django.urls import path

from chat.apis import ChatQueryApi, ChatQueryNoSlashApi, ChatSessionsApi, ChatSessionsNoSlashApi

urlpatterns = [
    path("query/", ChatQueryApi.as_view(), name="chat-query"),
    path("query", ChatQueryNoSlashApi.as_view(), name="chat-query-no-slash"),
    path("sessions/", ChatSessionsApi.as_view(), name="chat-sessions"),
    path("sessions", ChatSessionsNoSlashApi.as_view(), name="chat-sessions-no-slash"),
]
