"""The API docs page: ReDoc from our own static files, allowed to load nothing from elsewhere."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView

# ReDoc's bundle draws its vendor's logo from a CDN; the policy stops that request (the logo
# then hides itself), so the page works offline and tells no one outside who reads it.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # the page's inline Redoc.init call
        "style-src 'self' 'unsafe-inline'",  # ReDoc styles its components inline
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",  # ReDoc's search index runs in a blob worker
        "connect-src 'self'",
    ]
)


class ApiDocsView(SpectacularRedocView):
    template_name = "api/redoc.html"
    url_name = "schema"

    @extend_schema(exclude=True)
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
