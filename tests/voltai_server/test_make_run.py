"""`make run` on a fresh data folder: migrates, prints a demo key, serves with a worker."""

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ARTIFACTS, ROOT, free_port, stop_process_group
from voltai_server.embedded_db import embedded_server_stop


@pytest.mark.slow
def test_run_script_serves_healthz_and_prints_a_working_api_key(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "make-run.log"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "VOLTAI_TEST_CLOCK_FILE", "SECRET_KEY"}}
    env.update(VOLTAI_DATA_DIR=str(data_dir), PORT=str(port), APP_BASE_URL=f"http://127.0.0.1:{port}")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        healthy = False
        while time.monotonic() < deadline and not healthy:
            assert process.poll() is None, log_path.read_text()
            try:
                healthy = httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.5)
        assert healthy, log_path.read_text()
        output = log_path.read_text()
        key = re.search(r"API key:\s+(vt_\S+)", output)
        assert key, output
        assert re.search(r"web login:\s+admin / \S+", output)
        assert f"curl -s {base}/chat/query/" in output
        assert httpx.get(f"{base}/chat/sessions/", headers={"X-API-KEY": key.group(1)}, timeout=10).status_code == 200
        assert httpx.get(f"{base}/chat/sessions/", headers={"X-API-KEY": "vt_wrong"}, timeout=10).status_code == 401
    finally:
        stop_process_group(process, timeout=30)
        # The embedded server outlives the script by design; stop this test's own one.
        embedded_server_stop(data_dir)
