"""Request ids on every log line, and request counts and latencies for the metrics."""

import logging
import re
import time
import uuid

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from core.logging import request_id_var
from core.metrics import HTTP_LATENCY, HTTP_REQUESTS

logger = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware(MiddlewareMixin):
    """Takes X-Request-ID from the proxy (when it looks sane) or makes one; counts the request."""

    def process_request(self, request: HttpRequest) -> None:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        request._started = time.perf_counter()  # type: ignore[attr-defined]
        request_id_var.set(request_id)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        request_id = getattr(request, "request_id", None)
        if request_id:
            response["X-Request-ID"] = request_id
        endpoint = _endpoint(request)
        HTTP_REQUESTS.labels(endpoint=endpoint, method=request.method or "", status=str(response.status_code)).inc()
        started = getattr(request, "_started", None)
        if started is not None:
            HTTP_LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            logger.error("%s %s -> %s", request.method, request.path, response.status_code)
        return response


def _endpoint(request: HttpRequest) -> str:
    """The route pattern, not the path: /{org}/chat/{id} must not make a label per chat."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + (match.route or match.url_name or "unknown")
