"""No Docker engine runs here, so check the compose file against the code instead."""

import re
from pathlib import Path

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


# --- scale: `docker compose up --scale worker=N`, several web processes, shared uploads ---

README = (ROOT / "README.md").read_text()
# What every web and worker process must agree on (README, "Separate machines").
SHARED = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_VISIBILITY_TIMEOUT", "SECRET_KEY", "VOLTAI_DATA_DIR")


def _scale_section() -> str:
    start = README.index("## Running at scale")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def test_the_worker_scales_no_fixed_name_no_published_port_and_restarts() -> None:
    worker = COMPOSE["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["restart"] == "unless-stopped"  # a killed worker comes back and sweeps
    # Its health check asks this worker only: any one of N answering would pass a bare ping.
    assert "--destination celery@$$HOSTNAME" in " ".join(worker["healthcheck"]["test"])


def test_web_processes_scale_inside_one_container_behind_one_port() -> None:
    web = COMPOSE["services"]["web"]
    assert "container_name" not in web and web["ports"] == ["8000:8000"]
    assert "--workers" not in " ".join(web["command"])  # so WEB_WORKERS decides
    assert web["environment"]["WEB_WORKERS"].startswith("${WEB_WORKERS")
    assert [name for name, service in COMPOSE["services"].items() if "ports" in service] == ["web"]


def test_web_and_worker_share_the_database_broker_secret_and_upload_volume() -> None:
    from django.conf import settings

    web, worker = COMPOSE["services"]["web"], COMPOSE["services"]["worker"]
    for name in SHARED:
        assert web["environment"][name] == worker["environment"][name], name
    assert web["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:")
    # Uploads live under VOLTAI_DATA_DIR, which both mount from one named volume.
    assert Path(settings.MEDIA_ROOT).is_relative_to(settings.DATA_DIR)
    data_dir = web["environment"]["VOLTAI_DATA_DIR"]
    mounts = {f"{volume.split(':')[0]}:{data_dir}" for volume in web["volumes"]}
    assert mounts & set(worker["volumes"]), "web and worker must mount the same volume at VOLTAI_DATA_DIR"
    assert mounts.pop().split(":")[0] in COMPOSE["volumes"]  # a named volume, not a host folder
    assert web["environment"]["DB_APPLICATION_NAME"] != worker["environment"]["DB_APPLICATION_NAME"]


def test_the_scale_section_of_the_readme_names_only_real_settings_and_the_shared_ones() -> None:
    section = _scale_section()
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", section))
    for name in named:
        from_env = re.search(rf'"{name}"', SETTINGS_SOURCE)
        django_setting = re.search(rf"^{name} = ", SETTINGS_SOURCE, re.MULTILINE)
        assert from_env or django_setting, f"{name} is named in the README but not in settings.py"
    assert set(SHARED) <= named
    for name in ("DB_CONN_MAX_AGE", "WEB_WORKERS", "WEB_MAX_CONNECTIONS", "MEDIA_ROOT"):
        assert name in named
