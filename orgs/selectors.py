"""Reads for organizations, keys and memberships."""

import re
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from core import clock
from orgs.models import ApiKey, Membership, Organization
from orgs.services import API_KEY_PREFIX, secrets_match

_KEY_SHAPE = re.compile(rf"^{API_KEY_PREFIX}([0-9a-f]{{12}})_[A-Za-z0-9_-]{{20,100}}$")
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The live key that `raw_key` is, or None. Compares the secret's hash in constant time."""
    match = _KEY_SHAPE.match(raw_key.strip())
    if not match:
        return None
    api_key = ApiKey.objects.select_related("org").filter(prefix=match.group(1)).first()
    if api_key is None or not secrets_match(raw_key.strip(), api_key.secret_hash) or api_key.is_revoked:
        return None
    now = clock.now()
    # Record use at most once a minute so a busy key does not write on every request.
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_GRANULARITY:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def org_get_by_name(*, name: str) -> Organization | None:
    return Organization.objects.filter(name__iexact=name).first()


def membership_get(*, user: User | AnonymousUser, org: Organization) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, org=org).first()


def orgs_for_user(*, user: User | AnonymousUser) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).distinct()


def admin_org_ids(*, user: User | AnonymousUser) -> list[int]:
    if not user.is_authenticated:
        return []
    return list(Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values_list("org_id", flat=True))
