"""The ASGI application, behind a guard that refuses oversized bodies before reading them."""

import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltai_server.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after Django is set up)

from core.error_rendering import asgi_error_response  # noqa: E402
from core.errors import PayloadTooLarge  # noqa: E402
from library.services import MAX_FILES_PER_UPLOAD, upload_size_limit  # noqa: E402

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

_MIB = 1024 * 1024
_UPLOAD_PATHS = re.compile(r"^/(?:library/documents/?|admin/.*|[^/]+/library/upload)$")


def body_limit(path: str) -> int:
    """Largest body accepted on `path`: PDF uploads get MAX_UPLOAD_MB, everything else MAX_BODY_KB."""
    if _UPLOAD_PATHS.match(path):
        files = MAX_FILES_PER_UPLOAD if path.endswith("/library/upload") else 1
        return upload_size_limit(files=files, envelope_bytes=_MIB)
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 64 * 1024


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 413 from the declared Content-Length alone, so a huge body is never buffered.

    Django's ASGI handler reads the whole body before any view runs; without this, the
    server would spool gigabytes to disk before the view could refuse them.
    """
    if scope["type"] == "http":
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > body_limit(scope["path"]):
            uploading = bool(_UPLOAD_PATHS.match(scope["path"]))
            error = PayloadTooLarge.file_too_large() if uploading else PayloadTooLarge.body_too_large()
            await asgi_error_response(send, error)
            return
    await django_application(scope, receive, send)
