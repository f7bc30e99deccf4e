"""404 and 500 for URLs no view answered: JSON in the error shape for API paths, HTML otherwise."""

from django.http import HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from core.error_rendering import error_json_response
from core.errors import ApplicationError, NotFound

API_PREFIXES = ("/chat/query", "/chat/sessions", "/library/documents", "/api/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES) or "application/json" in request.headers.get("Accept", "")


def _page(template: str, status: int, fallback: str) -> HttpResponse:
    try:
        body: str = render_to_string(template)
    except TemplateDoesNotExist:
        body = f"<!doctype html><title>{fallback}</title><h1>{fallback}</h1>"
    return HttpResponse(body, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return error_json_response(NotFound())
    return _page("404.html", 404, "Page not found")


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return error_json_response(ApplicationError())
    return _page("500.html", 500, "Server error")
