"""The one clock. Code asks `now()` rather than the system, so tests can move time.

With settings.TEST_CLOCK_FILE set (tests only), the file holds an offset in seconds
that every process adds to the real time; a test writes it to make five minutes pass.
"""

import os
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def now() -> datetime:
    return timezone.now() + timedelta(seconds=_offset_seconds())


def _offset_seconds() -> float:
    path = settings.TEST_CLOCK_FILE
    if not path:
        return 0.0
    try:
        with open(path) as handle:
            return float(handle.read().strip() or 0)
    except FileNotFoundError:
        return 0.0


def advance(seconds: float) -> None:
    """Move the test clock forward (tests only)."""
    path = settings.TEST_CLOCK_FILE
    if not path:
        raise RuntimeError("advance() needs VOLTAI_TEST_CLOCK_FILE")
    # Read before writing (opening with "w" empties the file), and replace the file in one
    # step so a server process reading it meanwhile never sees it empty.
    offset = _offset_seconds() + seconds
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w") as handle:
        handle.write(str(offset))
    os.replace(partial, path)
