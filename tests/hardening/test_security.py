"""Security: an org-isolation matrix over every API endpoint and web page (owner, member of
another org, anonymous), CSRF on every form, security headers, and HTTPS-only cookies + HSTS."""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import manage_py

if TYPE_CHECKING:  # the models load once Django is set up, after this module
    from django.contrib.auth.models import User

    from orgs.models import Organization

pytestmark = pytest.mark.django_db

# Strings only the "Datasheets" org holds: any of them in a stranger's response is a leak.
SECRET_USER = "secret-user-7"
SECRET_TEXT = "SECRET-ANSWER-TOKEN"
SECRET_TITLE = "Secret thread about the ADS1115"
SECRET_SOURCE = "ti-ads1115.pdf"
MARKERS = (SECRET_USER, SECRET_TEXT, SECRET_TITLE, SECRET_SOURCE, "bosch-bme280.pdf")


@dataclass
class World:
    org: "Organization"
    chat_id: str
    document_id: int
    owner: "User"
    stranger: "User"
    owner_key: str
    stranger_key: str


@pytest.fixture
def world(datasheets_org) -> World:
    from chat.models import Chat, Message, Seat
    from core import clock
    from library.models import Document
    from orgs.services import api_key_create, member_create, org_create

    owner = member_create(org=datasheets_org, username="ds-owner", password="ds-owner-pass-1", admin=True).user
    globex = org_create(name="Globex")
    stranger = member_create(org=globex, username="globex-admin", password="globex-pass-1", admin=True).user
    owner_key = api_key_create(org=datasheets_org, label="owner")
    chat = Chat.objects.create(org=datasheets_org, user_id=SECRET_USER, api_key=owner_key.api_key, title=SECRET_TITLE)
    Message.objects.create(chat=chat, role="user", content=f"{SECRET_TEXT} question")
    Message.objects.create(
        chat=chat,
        role="assistant",
        content=f"{SECRET_TEXT} answer",
        mode="FAST",
        sources=[{"source_name": SECRET_SOURCE, "page": 1, "url": "", "document_id": 0, "chunk_ids": []}],
    )
    Seat.objects.create(org=datasheets_org, user_id=SECRET_USER, last_activity_at=clock.now())
    # The stranger's own org has a thread and a key too, so its pages are not trivially empty.
    Chat.objects.create(org=globex, user_id="globex-user", title="Globex thread")
    document = Document.objects.get(org=datasheets_org, source_name=SECRET_SOURCE)
    return World(
        org=datasheets_org,
        chat_id=str(chat.pk),
        document_id=document.pk,
        owner=owner,
        stranger=stranger,
        owner_key=owner_key.raw_key,
        stranger_key=api_key_create(org=globex, label="stranger").raw_key,
    )


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


# --- the API -----------------------------------------------------------------------------


def api_calls(world: World) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", "/chat/sessions/", None),
        ("GET", "/chat/sessions", None),
        ("POST", "/chat/query/", {"query": "continue", "user_id": SECRET_USER, "chat_id": world.chat_id}),
        ("POST", "/chat/query", {"query": "scope", "user_id": "u", "topic_names": ["Data converters"]}),
        ("GET", "/library/documents/", None),
        ("GET", f"/library/documents/{world.document_id}/", None),
    ]


def _api(client: APIClient, method: str, path: str, body: dict | None):
    return client.get(path) if method == "GET" else client.post(path, body, format="json")


def test_another_orgs_api_key_gets_nothing_of_this_org_from_any_endpoint(world: World) -> None:
    stranger = APIClient()
    stranger.credentials(HTTP_X_API_KEY=world.stranger_key)
    expected = {
        "/chat/sessions/": 200,
        "/chat/sessions": 200,
        "/chat/query/": 404,  # chat_not_found
        "/chat/query": 400,  # unknown_topic
        "/library/documents/": 200,
        f"/library/documents/{world.document_id}/": 404,
    }
    for method, path, body in api_calls(world):
        response = _api(stranger, method, path, body)
        assert response.status_code == expected[path], (path, response.status_code, response.content[:300])
        assert not _leaks(_body(response)), (path, _leaks(_body(response)))


def test_an_anonymous_caller_gets_401_from_every_endpoint(world: World) -> None:
    for method, path, body in api_calls(world):
        response = _api(APIClient(), method, path, body)
        assert response.status_code == 401, (path, response.status_code)
        assert response.json()["error"] == "authentication_failed"
        assert not _leaks(_body(response))


def test_the_owners_key_sees_its_own_data_so_the_matrix_can_fail(world: World) -> None:
    owner = APIClient()
    owner.credentials(HTTP_X_API_KEY=world.owner_key)
    assert SECRET_USER in _body(owner.get("/chat/sessions/"))
    assert SECRET_SOURCE in _body(owner.get("/library/documents/"))
    assert SECRET_SOURCE in _body(owner.get(f"/library/documents/{world.document_id}/"))


# --- the web pages ------------------------------------------------------------------------


def page_gets(world: World) -> list[str]:
    doc = f"/Datasheets/library/documents/{world.document_id}"
    return [
        "/Datasheets/",
        "/Datasheets/chat",
        "/Datasheets/chat/",
        "/Datasheets/chat/new",
        f"/Datasheets/chat/{world.chat_id}",
        "/Datasheets/library",
        f"/Datasheets/library?source_name={SECRET_SOURCE}&source_page=1&source_type=text",
        "/Datasheets/library/progress",
        f"{doc}/reingest",
        f"{doc}/delete",
        f"{doc}/file.pdf",
        f"{doc}/pages/1.png",
    ]


def page_posts(world: World) -> list[tuple[str, dict]]:
    doc = f"/Datasheets/library/documents/{world.document_id}"
    return [
        ("/Datasheets/chat/stream", {"query": "continue", "chat_id": world.chat_id}),
        ("/Datasheets/library/upload", {}),
        (f"{doc}/reingest", {}),
        (f"{doc}/delete", {}),
    ]


def _untouched(world: World) -> None:
    from chat.models import Message
    from library.models import Document

    document = Document.objects.get(pk=world.document_id)
    assert document.status == Document.Status.READY
    assert Message.objects.filter(chat_id=world.chat_id).count() == 2


def test_a_member_of_another_org_gets_404_and_no_data_from_every_page(world: World) -> None:
    client = Client()
    client.force_login(world.stranger)
    for path in page_gets(world):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert not _leaks(_body(response)), (path, _leaks(_body(response)))
    for path, data in page_posts(world):
        response = client.post(path, data)
        assert response.status_code == 404, (path, response.status_code)
        assert not _leaks(_body(response)), (path, _leaks(_body(response)))
    _untouched(world)
    # Under the stranger's own org, this org's ids and names are just as unknown.
    for path in (
        f"/Globex/chat/{world.chat_id}",
        f"/Globex/library/documents/{world.document_id}/file.pdf",
        f"/Globex/library/documents/{world.document_id}/pages/1.png",
        f"/Globex/library?source_name={SECRET_SOURCE}&source_page=1&source_type=text",
    ):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        # The not-found page repeats the name the stranger asked for; nothing else may show.
        echoed = SECRET_SOURCE if "source_name" in path else ""
        assert not [marker for marker in _leaks(_body(response)) if marker != echoed], path
    for path in ("/", "/Globex/", "/Globex/chat/", "/Globex/library", "/Globex/library/progress"):
        response = client.get(path, follow=True)
        assert response.status_code == 200, (path, response.status_code)
        assert not _leaks(_body(response)), (path, _leaks(_body(response)))
        assert "Datasheets" not in _body(response), path


def test_an_anonymous_visitor_is_sent_to_the_login_page_from_every_page(world: World) -> None:
    client = Client()
    for path in page_gets(world):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), (path, response)
        assert not _leaks(_body(response)), path
    for path, data in page_posts(world):
        response = client.post(path, data)
        assert response.status_code in (302, 403), (path, response.status_code)
        assert not _leaks(_body(response)), path
    _untouched(world)


def test_the_owner_sees_every_page_so_the_matrix_can_fail(world: World) -> None:
    client = Client()
    client.force_login(world.owner)
    for path in page_gets(world):
        response = client.get(path, follow=True)
        assert response.status_code == 200, (path, response.status_code)
    assert SECRET_TEXT in _body(client.get(f"/Datasheets/chat/{world.chat_id}"))


# --- CSRF, headers, HTTPS ------------------------------------------------------------------


def test_every_form_refuses_a_post_without_the_csrf_token(world: World) -> None:
    anonymous = Client(enforce_csrf_checks=True)
    login = anonymous.post("/accounts/login/", {"username": "ds-owner", "password": "ds-owner-pass-1"})
    assert login.status_code == 403
    owner = Client(enforce_csrf_checks=True)
    owner.force_login(world.owner)
    for path, data in [*page_posts(world), ("/accounts/logout/", {})]:
        response = owner.post(path, data)
        assert response.status_code == 403, (path, response.status_code)
    _untouched(world)
    # With the token from the form, the same post goes through (so the 403s above mean CSRF).
    page = owner.get(f"/Datasheets/library/documents/{world.document_id}/reingest")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else owner.cookies["csrftoken"].value
    assert "csrfmiddlewaretoken" in _body(page)
    done = owner.post(f"/Datasheets/library/documents/{world.document_id}/reingest", {"csrfmiddlewaretoken": token})
    assert done.status_code in (200, 302), done.status_code


@pytest.mark.parametrize("path", ["/accounts/login/", "/healthz", "/chat/sessions/", "/api/schema/"])
def test_security_headers_are_on_every_kind_of_response(world: World, path: str) -> None:
    response = Client().get(path, headers={"X-API-KEY": world.owner_key})
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response  # plain http: no HSTS


_PROBE = """
import json
from django.conf import settings
from django.test import Client
client = Client()
response = client.get("/accounts/login/", secure=True, headers={"host": "voltai.example.com"})
session = Client()
cookies = {name: {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"])}
           for name, morsel in response.cookies.items()}
print("PROBE " + json.dumps({
    "status": response.status_code,
    "hsts": response.headers.get("Strict-Transport-Security"),
    "cookies": cookies,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "debug": settings.DEBUG,
}))
"""


@pytest.mark.slow
def test_over_https_cookies_are_secure_and_hsts_is_sent_and_debug_is_off() -> None:
    run = manage_py("shell", "-c", _PROBE, APP_BASE_URL="https://voltai.example.com")
    assert run.returncode == 0, run.stderr[-2000:]
    probe = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("PROBE "))[6:])
    assert probe["status"] == 200
    assert probe["hsts"] and probe["hsts"].startswith("max-age=31536000"), probe
    assert probe["cookies"]["csrftoken"]["secure"] is True, probe
    assert probe["session_cookie_secure"] is True
    assert probe["debug"] is False
