import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orgs.models import ApiKey, Membership, Organization
from orgs.selectors import api_key_authenticate
from tests.conftest import manage_py
from topics.models import Topic


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_create_org_prints_the_name_and_defaults_to_unlimited_seats() -> None:
    assert run("create_org", "Initech").strip() == "Initech"
    assert Organization.objects.get(name="Initech").max_sessions is None


@pytest.mark.django_db
def test_create_org_takes_max_sessions() -> None:
    run("create_org", "Initech", "--max-sessions", "3")
    assert Organization.objects.get(name="Initech").max_sessions == 3


@pytest.mark.django_db
def test_create_org_refuses_a_duplicate_and_a_bad_name() -> None:
    run("create_org", "Initech")
    with pytest.raises(CommandError, match="already exists"):
        run("create_org", "initech")
    with pytest.raises(CommandError, match="Invalid organization name"):
        run("create_org", "no spaces/allowed")
    with pytest.raises(CommandError, match="reserved"):
        run("create_org", "Admin")


@pytest.mark.django_db
def test_create_api_key_prints_a_working_key_alone_on_the_last_line(org) -> None:
    raw = run("create_api_key", "Acme", "--name", "ci").strip().splitlines()[-1]
    api_key = api_key_authenticate(raw_key=raw)
    assert api_key is not None and api_key.org == org and api_key.label == "ci"
    assert not ApiKey.objects.filter(secret_hash=raw).exists()


@pytest.mark.django_db
def test_commands_refuse_an_unknown_org() -> None:
    for args in (
        ["create_api_key", "Nope"],
        ["create_topic", "Nope", "T"],
        ["create_member", "Nope", "u", "--password", "p"],
    ):
        with pytest.raises(CommandError, match="No organization named 'Nope'"):
            run(*args)


@pytest.mark.django_db
def test_create_topic_and_member(org) -> None:
    run("create_topic", "Acme", "Power", "--description", "Power parts")
    assert Topic.objects.get(org=org, name="Power").description == "Power parts"
    with pytest.raises(CommandError, match="already exists"):
        run("create_topic", "Acme", "power")
    run("create_member", "Acme", "alice", "--password", "s3cret-pass", "--admin")
    membership = Membership.objects.get(user__username="alice")
    assert membership.role == "admin" and membership.user.check_password("s3cret-pass")


@pytest.mark.django_db
def test_a_failing_command_exits_non_zero_with_one_clear_line() -> None:
    result = manage_py("create_api_key", "no-such-org-anywhere")
    assert result.returncode != 0
    assert "No organization named 'no-such-org-anywhere'" in result.stderr
    assert "Traceback" not in result.stderr
