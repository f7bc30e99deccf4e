"""POST /chat/query/ (JSON or Server-Sent Events) and GET /chat/sessions/.

Unknown body fields are ignored, so clients written against a later version of the contract
keep working; every documented field is validated strictly.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agent.events import Mode
from chat.admission import seat_usage
from chat.schema import SERVER_ERRORS, UNAUTHORIZED, chat_query_schema
from chat.services import chat_turn_answer, chat_turn_begin
from chat.sse import turn_event_stream, wants_event_stream
from orgs.authentication import api_user


class JsonResponsesOnly(BaseContentNegotiation):
    """Every Response is JSON whatever Accept says: the contract answers JSON unless it streams,
    and errors before a stream starts are plain JSON too (DRF would otherwise send 406)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class StrictCharField(serializers.CharField):
    """A JSON string, never a number coerced to one: the contract types these fields as strings."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class ChatQueryApi(APIView):
    content_negotiation_class = JsonResponsesOnly

    @extend_schema_serializer(component_name="ChatQuery")
    class InputSerializer(serializers.Serializer):
        query = StrictCharField(max_length=settings.QUERY_MAX_CHARS, help_text="The question.")
        user_id = StrictCharField(
            max_length=255,
            trim_whitespace=False,  # the client's identifier, compared exactly
            help_text="Your application's identifier of the end user; one request in flight per (key, user_id).",
        )
        mode = serializers.ChoiceField(choices=Mode.values, default=Mode.AUTO, help_text="Reasoning mode.")
        chat_id = StrictUUIDField(
            required=False, allow_null=True, help_text="Continue this thread; omit for a new one."
        )
        topic_names = serializers.ListField(
            child=StrictCharField(max_length=100),
            required=False,
            allow_null=True,
            allow_empty=True,
            max_length=100,
            help_text="Topics to search (case-insensitive); omitted, null or [] means chosen automatically.",
        )

        def validate_user_id(self, value: str) -> str:
            if not value.strip():
                raise serializers.ValidationError("This field may not be blank.")
            return value

    @chat_query_schema(InputSerializer)
    def post(self, request: Request) -> HttpResponseBase:
        request._request.body  # noqa: B018  # over DATA_UPLOAD_MAX_MEMORY_SIZE → 413 before parsing
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = api_user(request)
        holder = f"key:{user.api_key.pk}"
        with chat_turn_begin(org=user.org, holder=holder, api_key=user.api_key, **payload.validated_data) as turn:
            if wants_event_stream(request.headers.get("Accept", "")):
                return turn_event_stream(turn)
            return Response(chat_turn_answer(turn=turn))


class SessionsResponseSerializer(serializers.Serializer):
    total_sessions = serializers.IntegerField(allow_null=True, help_text="Seat limit; null when unlimited.")
    used_sessions = serializers.IntegerField(help_text="Distinct user_ids active in the last five minutes.")
    available_sessions = serializers.IntegerField(allow_null=True, help_text="Seats left; null when unlimited.")
    active_user_ids = serializers.ListField(child=serializers.CharField(), help_text="Active user_ids, sorted.")


class ChatSessionsApi(APIView):
    @extend_schema(
        operation_id="chat_sessions",
        summary="Floating-seat usage of your organization",
        responses={
            (200, "application/json"): SessionsResponseSerializer,
            (401, "application/json"): UNAUTHORIZED,
            **SERVER_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        usage = seat_usage(org=api_user(request).org)
        return Response(SessionsResponseSerializer(usage).data)


# The same endpoints without the trailing slash (APPEND_SLASH is off); documented once.
@extend_schema_view(post=extend_schema(exclude=True))
class ChatQueryNoSlashApi(ChatQueryApi):
    pass


@extend_schema_view(get=extend_schema(exclude=True))
class ChatSessionsNoSlashApi(ChatSessionsApi):
    pass
