"""No Docker engine runs here, so check the compose file against the code instead."""

import re

import yaml

from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS_SOURCE = (ROOT / "voltai_server" / "settings.py").read_text()


def test_it_defines_db_redis_web_and_worker_with_health_checks() -> None:
    services = COMPOSE["services"]
    assert set(services) >= {"db", "redis", "web", "worker"}
    for name in ("db", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert services["db"]["image"].startswith("pgvector/pgvector")
    assert COMPOSE["volumes"]


def test_every_environment_variable_it_sets_is_read_by_the_settings() -> None:
    for name in ("web", "worker"):
        for variable in COMPOSE["services"][name]["environment"]:
            assert re.search(rf'"{variable}"', SETTINGS_SOURCE), f"{variable} is not read by settings.py"


def test_every_manage_py_command_it_runs_exists() -> None:
    from django.core.management import get_commands

    commands = get_commands()
    for service in COMPOSE["services"].values():
        command = service.get("command")
        text = " ".join(command) if isinstance(command, list) else (command or "")
        for used in re.findall(r"manage\.py (\w+)", text):
            assert used in commands, used


def test_the_worker_command_names_the_celery_app() -> None:
    command = COMPOSE["services"]["worker"]["command"]
    assert command[:3] == ["celery", "-A", "voltai_server"]
    from voltai_server.celery import app

    assert app.main == "voltai_server"
