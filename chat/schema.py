"""OpenAPI pieces for the API: the X-API-KEY scheme and the error shapes of core.errors.

These serializers only describe responses for drf-spectacular; errors are rendered by
core.errors, never through them. Any API view may use them (library's included).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers


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
EVENT_STREAM_TEXT = OpenApiTypes.STR
