import pytest
from django.db import connection
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from orgs.authentication import api_user
from orgs.models import ApiKey
from orgs.services import api_key_create, api_key_revoke

factory = APIRequestFactory()


@api_view(["GET", "POST"])
def whoami(request: Request) -> Response:
    return Response({"org": api_user(request).org.name, "data": request.data if request.method == "POST" else None})


def call(headers: dict[str, str] | None = None, method: str = "get", **kwargs):
    request = getattr(factory, method)("/whoami", headers=headers or {}, **kwargs)
    response = whoami(request)
    response.render()
    return response


@pytest.mark.django_db
def test_a_key_authenticates_only_as_its_own_org(org, other_org, raw_key, other_raw_key) -> None:
    assert call({"X-API-KEY": raw_key}).data["org"] == "Acme"
    assert call({"X-API-KEY": other_raw_key}).data["org"] == "Globex"


@pytest.mark.django_db
def test_header_name_is_case_insensitive(raw_key: str) -> None:
    assert call({"x-api-key": raw_key}).status_code == 200
    assert call({"X-Api-Key": raw_key}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-KEY": ""}, {"X-API-KEY": "vt_000000000000_notarealkeynotarealkeynotarealkey"}, {"X-API-KEY": "junk"}],
    ids=["missing", "empty", "unknown", "malformed"],
)
def test_missing_or_unknown_key_gets_401_in_the_error_shape(org, headers: dict[str, str]) -> None:
    response = call(headers)
    assert response.status_code == 401
    assert response.data["error"] == "authentication_failed"
    assert isinstance(response.data["message"], str) and response.data["message"]


@pytest.mark.django_db
def test_revoked_key_gets_401(issued_key) -> None:
    api_key_revoke(api_key=issued_key.api_key)
    response = call({"X-API-KEY": issued_key.raw_key})
    assert response.status_code == 401
    assert response.data["error"] == "authentication_failed"


@pytest.mark.django_db
def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(issued_key) -> None:
    forged = issued_key.raw_key[:-4] + ("AAAA" if not issued_key.raw_key.endswith("AAAA") else "BBBB")
    assert call({"X-API-KEY": forged}).status_code == 401


@pytest.mark.django_db
def test_the_raw_key_is_not_stored_anywhere_in_the_database(org) -> None:
    issued = api_key_create(org=org, label="secret-check")
    secret_part = issued.raw_key.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM orgs_apikey k")
        rows = [row[0] for row in cursor.fetchall()]
    assert rows
    assert not any(issued.raw_key in row or secret_part in row for row in rows)
    assert ApiKey.objects.get(pk=issued.api_key.pk).secret_hash != issued.raw_key


@pytest.mark.django_db
def test_using_a_key_records_when_it_was_last_used(issued_key) -> None:
    assert issued_key.api_key.last_used_at is None
    call({"X-API-KEY": issued_key.raw_key})
    issued_key.api_key.refresh_from_db()
    assert issued_key.api_key.last_used_at is not None


@pytest.mark.django_db
def test_malformed_json_is_400_invalid_request(raw_key: str) -> None:
    response = call({"X-API-KEY": raw_key}, method="post", data=b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.data["error"] == "invalid_request"


@pytest.mark.django_db
def test_unsupported_content_type_is_415(raw_key: str) -> None:
    response = call({"X-API-KEY": raw_key}, method="post", data=b"a=b", content_type="text/plain")
    assert response.status_code == 415
    assert response.data["error"] == "unsupported_media_type"
