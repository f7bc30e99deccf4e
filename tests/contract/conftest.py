"""Fixtures for the contract suite: a keyed client and ways to make a user busy or the org full."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from chat.admission import hold_acquire


@pytest.fixture
def api(client_with_key: APIClient) -> APIClient:
    return client_with_key


@pytest.fixture
def make_busy(org, issued_key) -> Callable[[str], int]:
    """Put a request in flight for (this test key, user_id), as if another call were running."""

    def busy(user_id: str) -> int:
        return hold_acquire(org=org, holder=f"key:{issued_key.api_key.pk}", user_id=user_id)

    return busy


def post_query(client: APIClient, body: object, path: str = "/chat/query/", **headers: str):
    return client.post(path, body, format="json", headers=headers)


@pytest.fixture
def datasheets_key(datasheets_org):
    from orgs.services import api_key_create

    return api_key_create(org=datasheets_org, label="contract")


@pytest.fixture
def datasheets_api(datasheets_key) -> APIClient:
    """A client of the "Datasheets" org: ten real datasheets, five topics, the extractive backend."""
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=datasheets_key.raw_key)
    return client
