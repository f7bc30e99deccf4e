"""The one error hierarchy: what went wrong, as a code, an HTTP status and extra fields.

Services raise `ApplicationError` subclasses and never build error payloads or import DRF;
`core.error_rendering` turns every error into `{"error": code, "message": sentence, ...}`
wherever it surfaces (DRF views, plain views, a stream, the ASGI guard).
"""

from typing import Any

from django.conf import settings


class ApplicationError(Exception):
    code: str = "internal_error"
    http_status: int = 500
    default_message: str = "Something went wrong on our side; the error has been logged."
    # Seconds after which the same request may succeed (429s): sent as the Retry-After header.
    retry_after: int | None = None
    www_authenticate: str = ""

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message)

    def payload(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the error: when to retry (429s), how to authenticate (401)."""
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, self.retry_after))
        if self.www_authenticate:
            headers["WWW-Authenticate"] = self.www_authenticate
        return headers


class InvalidRequest(ApplicationError):
    code = "invalid_request"
    http_status = 400
    default_message = "The request is not valid."

    def __init__(self, message: str | None = None, *, details: dict[str, list[str]] | None = None) -> None:
        super().__init__(message, details=details or {})


class UnknownTopic(ApplicationError):
    code = "unknown_topic"
    http_status = 400

    def __init__(self, unknown_topics: list[str]) -> None:
        names = ", ".join(repr(name) for name in unknown_topics)
        super().__init__(f"No topic in this organization matches {names}.", unknown_topics=unknown_topics)


class AuthenticationFailed(ApplicationError):
    code = "authentication_failed"
    http_status = 401
    default_message = "A valid API key is required in the X-API-KEY header."
    www_authenticate = "X-API-KEY"


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    http_status = 403
    default_message = "You do not have permission to do this."


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404
    default_message = "Nothing exists at this address."


class ChatNotFound(ApplicationError):
    code = "chat_not_found"
    http_status = 404
    default_message = "No chat with this chat_id exists for this user."


class DocumentNotFound(ApplicationError):
    code = "document_not_found"
    http_status = 404
    default_message = "No document with this id exists in this organization."


class MethodNotAllowed(ApplicationError):
    code = "method_not_allowed"
    http_status = 405


class Conflict(ApplicationError):
    code = "conflict"
    http_status = 409


class PayloadTooLarge(ApplicationError):
    """413. Every way in words it with `body_too_large` or `file_too_large`, so it reads the same."""

    code = "payload_too_large"
    http_status = 413
    default_message = "The request is larger than this server accepts."

    @classmethod
    def body_too_large(cls) -> "PayloadTooLarge":
        limit_kb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
        return cls(f"The request body is larger than the {limit_kb} KB this server accepts.")

    @classmethod
    def file_too_large(cls) -> "PayloadTooLarge":
        return cls(f"The file is larger than the {settings.MAX_UPLOAD_MB} MB this server accepts.")


class UnsupportedMediaType(ApplicationError):
    code = "unsupported_media_type"
    http_status = 415
    default_message = "Send the body as application/json."


class UserBusy(ApplicationError):
    code = "user_session_limit_exceeded"
    http_status = 429

    def __init__(self, user_id: str, *, retry_after: int) -> None:
        super().__init__(
            f"user_id '{user_id}' already has an active request. Please wait for it to complete.",
            user_id=user_id,
        )
        self.retry_after = retry_after


class SeatsExhausted(ApplicationError):
    code = "session_limit_exceeded"
    http_status = 429

    def __init__(self, *, total_seats: int, active_seats: int, retry_after: int) -> None:
        super().__init__(
            "You have exceeded the session quota limit for your organization. Please try again later.",
            total_seats=total_seats,
            active_seats=active_seats,
            available_seats=max(total_seats - active_seats, 0),
        )
        self.retry_after = retry_after


class LlmUnavailable(ApplicationError):
    code = "llm_unavailable"
    http_status = 502
    default_message = "The language model endpoint failed to answer. Please try again later."


class LlmTimeout(ApplicationError):
    code = "llm_timeout"
    http_status = 504
    default_message = "The language model endpoint did not answer in time. Please try again later."


class ServiceUnavailable(ApplicationError):
    code = "service_unavailable"
    http_status = 503
    default_message = "The database is unreachable right now. Please retry in a few seconds."
