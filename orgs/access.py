"""Page access for every app's web pages: login, then membership of the org in the URL.

`org_page` turns the `{org_name}` of a URL into an `OrgAccess` or a 404, so nobody learns
whether another org even exists; `page_context` and `not_found_page` give every page the
org's navigation.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from orgs.models import Membership, Organization
from orgs.selectors import membership_get, org_get_by_name


@dataclass(frozen=True)
class OrgAccess:
    org: Organization
    user: User
    membership: Membership

    @property
    def is_admin(self) -> bool:
        return self.membership.role == Membership.Role.ADMIN


def org_path(org: Organization, *parts: str) -> str:
    """`/{org_name}/...` with the org name URL-encoded."""
    return "/" + "/".join([quote(org.name, safe=""), *parts])


def org_urls(org: Organization) -> dict[str, str]:
    return {"chat": org_path(org, "chat/"), "library": org_path(org, "library"), "new_chat": org_path(org, "chat/new")}


def org_access(request: HttpRequest, org_name: str) -> OrgAccess:
    """The org of the URL if the logged-in user is a member; otherwise 404 (never a hint it exists)."""
    org = org_get_by_name(name=org_name)
    user = request.user
    membership = membership_get(user=user, org=org) if org is not None else None
    if org is None or membership is None or not isinstance(user, User):
        raise Http404("No such organization.")
    return OrgAccess(org=org, user=user, membership=membership)


_Response = TypeVar("_Response", bound=HttpResponseBase)


def org_page(view: Callable[..., _Response]) -> Callable[..., _Response]:
    """Login required (anonymous → login page), then membership of `org_name` (else 404)."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, org_name: str, *args: Any, **kwargs: Any) -> _Response:
        return view(request, org_access(request, org_name), *args, **kwargs)

    return wrapper


def require_admin(access: OrgAccess) -> None:
    if not access.is_admin:
        raise PermissionDenied("Only administrators of this organization can change its library.")


def page_context(access: OrgAccess, section: str, **extra: Any) -> dict[str, Any]:
    return {
        "org": access.org,
        "membership": access.membership,
        "is_admin": access.is_admin,
        "org_urls": org_urls(access.org),
        "section": section,
        **extra,
    }


def not_found_page(
    request: HttpRequest, access: OrgAccess, reason: str, back_url: str, back_label: str, section: str = "library"
) -> HttpResponse:
    """A 404 that says what was not found, for a member of the org (strangers get the plain 404)."""
    context = page_context(access, section, reason=reason, back_url=back_url, back_label=back_label)
    return render(request, "404.html", context, status=404)
