"""Settings for the test suite: the production settings with a data folder of its own.

The environment is set here, before the settings are read, so that server and worker
processes started by tests inherit the same data folder and test clock.
"""

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("VOLTAI_DATA_DIR", str(_ROOT / "var" / "test"))
# One clock per data folder, so parallel runs in their own folders never move each other's time.
os.environ.setdefault("VOLTAI_TEST_CLOCK_FILE", str(Path(os.environ["VOLTAI_DATA_DIR"]) / "clock_offset"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from voltai_server.settings import *  # noqa: F403
