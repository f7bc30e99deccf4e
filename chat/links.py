"""Absolute links the API hands out: a thread's web page and a cited library page.

Both are built from settings.APP_BASE_URL, so they point at the public host even when the
request came through a proxy; the org name is a path segment and is percent-encoded.
"""

from urllib.parse import quote, urlencode
from uuid import UUID

from django.conf import settings


def chat_url(*, org_name: str, chat_id: UUID | str) -> str:
    return f"{settings.APP_BASE_URL}/{quote(org_name, safe='')}/chat/{chat_id}"


def source_url(*, org_name: str, source_name: str, page: int) -> str:
    query = urlencode(
        {"source_name": source_name, "source_page": page, "source_type": "text"},
        quote_via=quote,  # spaces as %20, which every client decodes the same way
    )
    return f"{settings.APP_BASE_URL}/{quote(org_name, safe='')}/library?{query}"
