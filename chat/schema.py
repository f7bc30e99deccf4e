"""OpenAPI pieces for the API: the X-API-KEY scheme, the error shapes of core.errors, and the
description of POST /chat/query/.

These serializers only describe responses for drf-spectacular; errors are rendered by
core.error_rendering, never through them. Any API view may use them (library's included).
"""

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from chat.sse import EVENT_STREAM

_View = TypeVar("_View", bound=Callable[..., Any])


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "orgs.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-KEY"}


class ErrorSerializer(serializers.Serializer):
    # Subclasses narrow it to a ChoiceField of their one code.
    error: serializers.Field = serializers.CharField(help_text="Machine-readable error code.")
    message = serializers.CharField(help_text="One readable sentence.")


@extend_schema_field({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}})
class _DetailsField(serializers.DictField):
    pass


class InvalidRequestErrorSerializer(ErrorSerializer):
    error = serializers.ChoiceField(choices=["invalid_request"])
    details = _DetailsField(help_text="Field name → messages about that field.")


class UnknownTopicErrorSerializer(ErrorSerializer):
    error = serializers.ChoiceField(choices=["unknown_topic"])
    unknown_topics = serializers.ListField(child=serializers.CharField(), help_text="The names that matched no topic.")


class UserBusyErrorSerializer(ErrorSerializer):
    error = serializers.ChoiceField(choices=["user_session_limit_exceeded"])
    user_id = serializers.CharField()


class SeatsExhaustedErrorSerializer(ErrorSerializer):
    error = serializers.ChoiceField(choices=["session_limit_exceeded"])
    total_seats = serializers.IntegerField()
    active_seats = serializers.IntegerField()
    available_seats = serializers.IntegerField()


def error_response(description: str, serializer: type[serializers.Serializer] = ErrorSerializer) -> OpenApiResponse:
    return OpenApiResponse(response=serializer, description=description)


BAD_REQUEST = OpenApiResponse(
    response=PolymorphicProxySerializer(
        component_name="BadRequestError",
        serializers=[InvalidRequestErrorSerializer, UnknownTopicErrorSerializer],
        resource_type_field_name=None,
    ),
    description="`invalid_request` (malformed JSON or invalid fields, see `details`) or `unknown_topic`.",
)
TOO_MANY_REQUESTS = OpenApiResponse(
    response=PolymorphicProxySerializer(
        component_name="SessionLimitError",
        serializers=[UserBusyErrorSerializer, SeatsExhaustedErrorSerializer],
        resource_type_field_name=None,
    ),
    description=(
        "`user_session_limit_exceeded`: this (API key, user_id) already has a request in flight. "
        "`session_limit_exceeded`: every floating seat of the organization is taken."
    ),
)
UNAUTHORIZED = error_response("`authentication_failed`: the X-API-KEY header is missing, unknown or revoked.")
SERVER_ERRORS = {
    (500, "application/json"): error_response("`internal_error`."),
    (503, "application/json"): error_response("`service_unavailable`: the database cannot be reached."),
}


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


_QUERY_PARAMETERS = [
    OpenApiParameter(
        "Accept",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        # No enum: any other Accept value is valid and gets JSON (schemathesis proved the enum wrong).
        description="text/event-stream streams the answer as SSE; anything else returns one JSON object.",
    )
]
_QUERY_RESPONSES = {
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
}
_QUERY_EXAMPLES = [
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
]


def chat_query_schema(input_serializer: type[serializers.Serializer]) -> Callable[[_View], _View]:
    """The OpenAPI description of POST /chat/query/ (JSON and SSE), for the view's `post`."""
    return extend_schema(
        operation_id="chat_query",
        summary="Ask a question (JSON, or Server-Sent Events with Accept: text/event-stream)",
        request=input_serializer,
        parameters=_QUERY_PARAMETERS,
        responses=_QUERY_RESPONSES,
        examples=_QUERY_EXAMPLES,
    )
