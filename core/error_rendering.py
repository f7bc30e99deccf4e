"""Every error leaves in one shape, `{"error": code, "message": sentence, ...extra fields}`.

The one place that turns exceptions into what a client receives, wherever they surface:
`api_exception_handler` (DRF's EXCEPTION_HANDLER), `ApplicationErrorMiddleware` (plain
Django views), `error_json_response` (404/500 pages of API paths), `error_event_data` (the
`error` event of a stream) and `asgi_error_response` (the ASGI guard, before Django runs).
"""

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from core.errors import (
    ApplicationError,
    AuthenticationFailed,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from core.metrics import API_ERRORS

logger = logging.getLogger(__name__)


def error_for_exception(exc: BaseException, *, accepted_media_types: tuple[str, ...] = ()) -> ApplicationError:
    """Map any exception to the ApplicationError that describes it to a client.

    `accepted_media_types`: what the view's parsers read, for the 415 sentence.
    """
    if isinstance(exc, ApplicationError):
        return exc
    if isinstance(exc, drf_exceptions.ParseError):
        return InvalidRequest(f"Malformed request body: {exc.detail}")
    if isinstance(exc, drf_exceptions.ValidationError):
        return InvalidRequest("Some fields are missing or invalid.", details=_flatten_details(exc.detail))
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return AuthenticationFailed()
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return PermissionDenied()
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return UnsupportedMediaType(f"Send the body as {' or '.join(accepted_media_types or ('application/json',))}.")
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return InvalidRequest("The Accept header asks for a format this endpoint does not produce.")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf_exceptions.NotFound | Http404):
        return NotFound()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge.body_too_large()
    if isinstance(exc, drf_exceptions.APIException):
        error = ApplicationError(str(exc.detail))
        error.http_status = exc.status_code
        error.code = exc.default_code
        return error
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return ServiceUnavailable()
    if isinstance(exc, DatabaseError):
        logger.exception("database error", exc_info=exc)
        return ApplicationError()
    logger.exception("unhandled error", exc_info=exc)
    return ApplicationError()


def _flatten_details(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(field): _messages(value) for field, value in detail.items()}
    return {"non_field_errors": _messages(detail)}


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_messages(item))
        return out
    if isinstance(value, dict):
        return [f"{key}: {msg}" for key, item in value.items() for msg in _messages(item)]
    return [str(value)]


def error_json_response(error: ApplicationError) -> JsonResponse:
    API_ERRORS.labels(code=error.code).inc()
    return JsonResponse(error.payload(), status=error.http_status, headers=error.headers())


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | HttpResponse:
    """DRF's EXCEPTION_HANDLER: every API error leaves in the one error shape."""
    view = context.get("view")
    media_types = tuple(parser.media_type for parser in getattr(view, "parser_classes", ()))
    error = error_for_exception(exc, accepted_media_types=media_types)
    API_ERRORS.labels(code=error.code).inc()
    return Response(error.payload(), status=error.http_status, headers=error.headers())


class ApplicationErrorMiddleware(MiddlewareMixin):
    """Renders an ApplicationError raised by a plain Django view in the API error shape."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApplicationError):
            return error_json_response(exception)
        return None


def error_event_data(exc: BaseException) -> dict[str, Any]:
    """The data of a stream's `error` event: the error shape of whatever ended the stream."""
    error = error_for_exception(exc)
    API_ERRORS.labels(code=error.code).inc()
    return error.payload()


AsgiSend = Callable[[Mapping[str, Any]], Awaitable[None]]


async def asgi_error_response(send: AsgiSend, error: ApplicationError) -> None:
    """Answer with the error from the ASGI layer, before Django reads the request, and close."""
    body = json.dumps(error.payload()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
