import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.conftest import ROOT
from voltai_server.env import env_bool, env_int


def test_env_bool_rejects_a_value_that_is_not_a_boolean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "yes please")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false"):
        env_bool("DEBUG", False)


def test_env_int_rejects_words_and_values_below_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_UPLOAD_MB", "lots")
    with pytest.raises(ImproperlyConfigured):
        env_int("MAX_UPLOAD_MB", 50)
    monkeypatch.setenv("MAX_UPLOAD_MB", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("MAX_UPLOAD_MB", 50, minimum=1)


def _check_with(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_production_database_without_secret_key_refuses_to_start() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_is_off_by_default() -> None:
    from django.conf import settings

    assert "DEBUG" not in os.environ
    assert settings.DEBUG is False


def test_a_bad_llm_backend_fails_loudly() -> None:
    result = _check_with({"LLM_BACKEND": "magic"})
    assert result.returncode != 0
    assert "LLM_BACKEND must be" in result.stderr


@pytest.mark.django_db
def test_database_connections_carry_an_application_name() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('application_name')")
        assert cursor.fetchone()[0] == os.environ.get("DB_APPLICATION_NAME", "voltai")


def test_a_bad_embedding_backend_fails_loudly() -> None:
    result = _check_with({"EMBEDDING_BACKEND": "tensorflow"})
    assert result.returncode != 0
    assert "EMBEDDING_BACKEND must be onnx or torch" in result.stderr
