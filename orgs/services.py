"""Writes for organizations, API keys and memberships."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core import clock
from core.errors import Conflict, InvalidRequest
from orgs.models import ApiKey, Membership, Organization, org_name_validator

API_KEY_PREFIX = "vt_"

# First path segments the server itself answers; an org with one of these names would have
# pages nobody could reach (/{org_name}/chat/...).
RESERVED_ORG_NAMES = frozenset(
    {"admin", "accounts", "api", "chat", "library", "healthz", "readyz", "metrics", "static", "media", "favicon.ico"}
)


def hash_secret(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def secrets_match(raw_key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(raw_key), stored_hash)


def org_create(*, name: str, max_sessions: int | None = None) -> Organization:
    try:
        org_name_validator(name)
    except ValidationError as exc:
        raise InvalidRequest(f"Invalid organization name {name!r}: {exc.messages[0]}") from None
    if name.lower() in RESERVED_ORG_NAMES:
        raise InvalidRequest(f"Invalid organization name {name!r}: it is reserved for the server's own pages.")
    if max_sessions is not None and max_sessions < 0:
        raise InvalidRequest("max_sessions must be zero or more.")
    if Organization.objects.filter(name__iexact=name).exists():
        raise Conflict(f"An organization named {name!r} already exists.")
    try:
        with transaction.atomic():
            return Organization.objects.create(name=name, max_sessions=max_sessions)
    except IntegrityError:
        raise Conflict(f"An organization named {name!r} already exists.") from None


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    raw_key: str  # shown once; never stored


def api_key_create(*, org: Organization, label: str = "") -> IssuedKey:
    """Issue a key `vt_<prefix>_<secret>`; the prefix finds the row, the hash proves the secret."""
    prefix = secrets.token_hex(6)
    raw_key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(org=org, label=label, prefix=prefix, secret_hash=hash_secret(raw_key))
    return IssuedKey(api_key=api_key, raw_key=raw_key)


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = clock.now()
        api_key.save(update_fields=["revoked_at"])


def member_create(*, org: Organization, username: str, password: str, admin: bool = False) -> Membership:
    """Create (or reuse) a login and make it a member, or admin, of `org`."""
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(username=username)
        if not created and Membership.objects.filter(user=user, org=org).exists():
            raise Conflict(f"{username!r} is already a member of {org.name!r}.")
        user.set_password(password)
        if admin:
            user.is_staff = True  # org admins use the Django admin
        user.save()
        role = Membership.Role.ADMIN if admin else Membership.Role.MEMBER
        return Membership.objects.create(user=user, org=org, role=role)
