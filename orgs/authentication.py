"""DRF authentication by the X-API-KEY header (any letter case: HTTP headers are case-insensitive)."""

from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from core.errors import AuthenticationFailed
from orgs.models import ApiKey
from orgs.selectors import api_key_authenticate


class ApiKeyUser:
    """What `request.user` is for an API call: the organization acting through a key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.org = api_key.org
        self.pk = f"key:{api_key.pk}"

    def __str__(self) -> str:
        return f"{self.org.name} via {self.api_key.prefix}"


def authenticate_api_key(request: HttpRequest) -> ApiKey:
    """For plain Django views (SSE) that need the same check as DRF's."""
    raw = request.headers.get("X-API-KEY", "")
    api_key = api_key_authenticate(raw_key=raw) if raw else None
    if api_key is None:
        raise AuthenticationFailed()
    return api_key


def api_user(request: Request) -> ApiKeyUser:
    """The key's user of a request that passed ApiKeyAuthentication (every API view's default).

    `request.user` is typed as a Django user; this narrows it to what the API actually sets.
    """
    user: object = request.user
    if not isinstance(user, ApiKeyUser):
        raise AuthenticationFailed()
    return user


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey]:
        api_key = authenticate_api_key(request._request)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return "X-API-KEY"
