"""Django set-up shared by the benchmark scripts: each runs in its own data folder."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(data_dir_name: str) -> Path:
    """Configure a benchmark process (own VOLTAI_DATA_DIR under var/, offline model, quiet logs)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("VOLTAI_DATA_DIR", str(ROOT / "var" / data_dir_name))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltai_server.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    return ROOT
