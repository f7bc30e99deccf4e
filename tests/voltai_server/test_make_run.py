"""`make run` as a new user meets it: a clean clone, no .venv, only what requirements.txt installs.

The clone gets its own virtualenv from `requirements.txt` alone (pip's cache keeps that quick),
so a module that imports a package only the dev requirements install fails here, as it would
on a fresh machine, instead of passing inside the test suite's own virtualenv.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ARTIFACTS, DATASHEETS, ROOT, free_port, stop_process_group
from voltai_server.embedded_db import embedded_server_running, embedded_server_stop

APPS = ["core", "orgs", "topics", "library", "agent", "chat", "voltai_server"]
SAMPLE_DATASHEET = "bosch-bme280.pdf"


def _user_env(**extra: str) -> dict[str, str]:
    """The environment of a person at a shell: none of the test run's Django or virtualenv settings."""
    drop = {"DATABASE_URL", "VOLTAI_TEST_CLOCK_FILE", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("PYTEST", "DJANGO_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if "/.venv/" not in p + "/")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A clone of the committed tree with its runtime virtualenv made by `make install`."""
    clone = tmp_path_factory.mktemp("fresh") / "voltai"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    assert not (clone / ".venv").exists()
    installed = subprocess.run(
        ["make", "install"], cwd=clone, env=_user_env(), capture_output=True, text=True, timeout=1200
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    yield clone
    shutil.rmtree(clone, ignore_errors=True)


@pytest.mark.slow
def test_the_runtime_requirements_alone_import_every_module_and_pass_the_checks(
    fresh_clone: Path, tmp_path: Path
) -> None:
    env = _user_env(VOLTAI_DATA_DIR=str(tmp_path / "data"), HF_HUB_OFFLINE="1")
    python = str(fresh_clone / ".venv" / "bin" / "python")
    try:
        check = subprocess.run(
            [python, "manage.py", "check", "--fail-level", "WARNING"],
            cwd=fresh_clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        script = (
            "import django, importlib, pkgutil; django.setup(); names = []\n"
            f"for app in {APPS!r}:\n"
            "    package = importlib.import_module(app)\n"
            "    for info in pkgutil.walk_packages(package.__path__, app + '.'):\n"
            "        importlib.import_module(info.name); names.append(info.name)\n"
            "print(len(names), 'modules')\n"
        )
        imported = subprocess.run(
            [python, "-c", script],
            cwd=fresh_clone,
            env={**env, "DJANGO_SETTINGS_MODULE": "voltai_server.settings"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert int(imported.stdout.split()[0]) > 50
    finally:
        embedded_server_stop(tmp_path / "data")


def _wait_for(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-6000:]}")


@pytest.mark.slow
def test_make_run_serves_a_working_key_answers_its_sample_question_and_ctrl_c_stops_everything(
    fresh_clone: Path, tmp_path: Path
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    demo = tmp_path / "demo-datasheets"
    demo.mkdir()
    (demo / SAMPLE_DATASHEET).symlink_to(DATASHEETS / SAMPLE_DATASHEET)
    base = f"http://127.0.0.1:{port}"
    env = _user_env(VOLTAI_DATA_DIR=str(data_dir), PORT=str(port), APP_BASE_URL=base, DEMO_DATASHEETS=str(demo))
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "make-run.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["make", "run"], cwd=fresh_clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, 240, "/healthz", log_path)
        output = log_path.read_text()
        key = re.search(r"API key:\s+(vt_\S+)", output)
        question = re.search(r'"query": "([^"]+)"', output)
        assert key and question, output
        assert re.search(r"web login:\s+admin / \S+", output)
        assert "Ctrl-C stops the server, the worker and the embedded PostgreSQL." in output
        headers = {"X-API-KEY": key.group(1)}
        assert httpx.get(f"{base}/chat/sessions/", headers=headers, timeout=10).status_code == 200
        assert httpx.get(f"{base}/chat/sessions/", headers={"X-API-KEY": "vt_wrong"}, timeout=10).status_code == 401

        def sample_ready() -> bool:
            documents = httpx.get(f"{base}/library/documents/", headers=headers, timeout=10).json()
            return any(d["source_name"] == SAMPLE_DATASHEET and d["status"] == "ready" for d in documents)

        _wait_for(sample_ready, 300, f"{SAMPLE_DATASHEET} to be ingested", log_path)
        answer = httpx.post(
            f"{base}/chat/query/", headers=headers, json={"query": question.group(1), "user_id": "me"}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        assert SAMPLE_DATASHEET in {source["source_name"] for source in answer.json()["sources"]}

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C at the terminal signals the whole group
        process.wait(timeout=90)
        output = log_path.read_text()
        assert "Stopped the worker." in output
        assert f"The embedded PostgreSQL under {data_dir.resolve()} is stopped." in output
        assert not embedded_server_running(data_dir)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{base}/healthz", timeout=2)
    finally:
        stop_process_group(process, timeout=30)
        embedded_server_stop(data_dir)


@pytest.mark.slow
def test_make_run_stops_the_database_it_started_when_it_fails(fresh_clone: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # A port that is taken: the server cannot start, and the script ends with an error.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _user_env(VOLTAI_DATA_DIR=str(data_dir), PORT=str(port), DEMO_DATASHEETS="")
        result = subprocess.run(["make", "run"], cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=300)
    try:
        assert result.returncode != 0
        assert f"The embedded PostgreSQL under {data_dir.resolve()} is stopped." in result.stdout
        assert not embedded_server_running(data_dir)
    finally:
        embedded_server_stop(data_dir)
