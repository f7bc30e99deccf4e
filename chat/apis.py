"""POST /chat/query/ (JSON or Server-Sent Events) and GET /chat/sessions/.

Unknown body fields are ignored, so clients written against a later version of the contract
keep working; every documented field is validated strictly.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
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

from chat.models import Mode
from chat.schema import (
    BAD_REQUEST,
    SERVER_ERRORS,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    error_response,
)
from chat.selectors import seat_usage
from chat.services import chat_turn_answer, chat_turn_begin, chat_turn_events, chat_turn_release
from chat.sse import EVENT_STREAM, event_stream_response, wants_event_stream
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


class SourceSerializer(serializers.Serializer):
    source_name = serializers.CharField(help_text="File name of the cited document.")
    page = serializers.IntegerField(help_text="1-based page number.")
    url = serializers.URLField(help_text="Library page showing the cited page, with the passage highlighted.")


class QueryResponseSerializer(serializers.Serializer):
    final_answer = serializers.CharField(help_text="The clean answer, without citation markup.")
    chat_id = serializers.UUIDField(help_text="The thread; send it back to continue the conversation.")
    chat_url = serializers.URLField(help_text="Web page of the thread.")
    sources = SourceSerializer(many=True, help_text="Cited pages, de-duplicated, in citation order.")
    mode = serializers.CharField(allow_null=True, help_text="The mode that ran: FAST or AGENTIC.")


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

    @extend_schema(
        operation_id="chat_query",
        summary="Ask a question (JSON, or Server-Sent Events with Accept: text/event-stream)",
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "Accept",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                # No enum: any other Accept value is valid and gets JSON (schemathesis proved the enum wrong).
                description="text/event-stream streams the answer as SSE; anything else returns one JSON object.",
            )
        ],
        responses={
            (200, "application/json"): QueryResponseSerializer,
            (200, EVENT_STREAM): OpenApiResponse(
                response=OpenApiTypes.STR,
                description=(
                    "Server-Sent Events: `meta` {chat_id, chat_url, mode}, zero or more `step` {tool, input, "
                    "result}, one or more `delta` {text}, then `done` whose data is the JSON response object. "
                    "A failure mid-stream sends `error` with the error object and ends the stream; "
                    "`: ping` comments keep idle connections open."
                ),
            ),
            (400, "application/json"): BAD_REQUEST,
            (401, "application/json"): UNAUTHORIZED,
            (404, "application/json"): error_response("`chat_not_found`: no such chat for this user_id."),
            (413, "application/json"): error_response("`payload_too_large`."),
            (415, "application/json"): error_response("`unsupported_media_type`: send application/json."),
            (429, "application/json"): TOO_MANY_REQUESTS,
            (502, "application/json"): error_response("`llm_unavailable`: the language model endpoint failed."),
            (504, "application/json"): error_response("`llm_timeout`: the language model did not answer in time."),
            **SERVER_ERRORS,
        },
        examples=[
            OpenApiExample(
                "Ask",
                value={"query": "What is the supply voltage range?", "user_id": "usr_82af91", "mode": "AUTO"},
                request_only=True,
            ),
            OpenApiExample(
                "Scoped to topics",
                value={"query": "What is the I2C address?", "user_id": "usr_82af91", "topic_names": ["Sensors"]},
                request_only=True,
            ),
            OpenApiExample(
                "Answer",
                value={
                    "final_answer": "The BME280 answers at 0x76 or 0x77, chosen by the SDO pin.",
                    "chat_id": "2d8a39d8-29d6-4f0f-bc5f-4c5f0f9c9d54",
                    "chat_url": "https://voltai.example.com/Acme/chat/2d8a39d8-29d6-4f0f-bc5f-4c5f0f9c9d54",
                    "sources": [
                        {
                            "source_name": "bosch-bme280.pdf",
                            "page": 32,
                            "url": "https://voltai.example.com/Acme/library?source_name=bosch-bme280.pdf"
                            "&source_page=32&source_type=text",
                        }
                    ],
                    "mode": "FAST",
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request) -> HttpResponseBase:
        request._request.body  # noqa: B018  # over DATA_UPLOAD_MAX_MEMORY_SIZE → 413 before parsing
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = api_user(request)
        api_key = user.api_key
        turn = chat_turn_begin(
            org=user.org,
            holder=f"key:{api_key.pk}",
            api_key=api_key,
            **payload.validated_data,
        )
        if not wants_event_stream(request.headers.get("Accept", "")):
            return Response(chat_turn_answer(turn=turn))
        try:
            return event_stream_response(
                events=chat_turn_events(turn=turn), release=lambda: chat_turn_release(turn=turn)
            )
        except BaseException:
            chat_turn_release(turn=turn)
            raise


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
