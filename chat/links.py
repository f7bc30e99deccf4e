"""The absolute link the API hands out for a thread: its web page (the `chat_url`).

Built from settings.APP_BASE_URL, so it points at the public host even when the request came
through a proxy; the org name is a path segment and is percent-encoded. Cited pages' links
are library.links.
"""

from urllib.parse import quote
from uuid import UUID

from django.conf import settings


def chat_url(*, org_name: str, chat_id: UUID | str) -> str:
    return f"{settings.APP_BASE_URL}/{quote(org_name, safe='')}/chat/{chat_id}"
