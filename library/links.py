"""Links to the library's pages: a cited page, as the API hands it out and as the web pages link it.

The API's `url` is absolute, built from settings.APP_BASE_URL, so it points at the public
host even when the request came through a proxy; the web pages link relatively. The org
name is a path segment and is percent-encoded.
"""

from urllib.parse import quote, urlencode

from django.conf import settings

from orgs.access import org_path
from orgs.models import Organization


def source_url(*, org_name: str, source_name: str, page: int) -> str:
    """The absolute library URL of a cited page, as the API's source `url`."""
    query = urlencode(
        {"source_name": source_name, "source_page": page, "source_type": "text"},
        quote_via=quote,  # spaces as %20, which every client decodes the same way
    )
    return f"{settings.APP_BASE_URL}/{quote(org_name, safe='')}/library?{query}"


def source_path(org: Organization, source_name: str, page: int, **extra: str) -> str:
    """The library page of one cited page, relative, for links between the web pages."""
    query = {"source_name": source_name, "source_page": str(page), "source_type": "text", **extra}
    return org_path(org, "library") + "?" + urlencode(query)


def library_path(org: Organization, *parts: str) -> str:
    """`/{org_name}/library/...`: the library index, or one of its pages."""
    return org_path(org, "library", *parts)
