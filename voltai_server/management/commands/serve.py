import os
import shutil
import socket
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the web app and API with uvicorn (ASGI) worker processes; not Django's runserver."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=settings.WEB_WORKERS)

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        import uvicorn

        # Each worker writes its metrics here; /metrics adds them up. Stale files from a
        # previous run would be counted again, so the folder starts empty. The host name keeps
        # servers on other machines that share VOLTAI_DATA_DIR out of this folder.
        metrics_dir = Path(settings.DATA_DIR) / "metrics" / f"{socket.gethostname()}-{port}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        self.stderr.write(f"Serving on http://{host}:{port} with {workers} worker(s)")
        uvicorn.run(
            "voltai_server.asgi:application",
            host=host,
            port=port,
            workers=workers,
            log_config=None,  # Django's JSON logging stays in charge
            access_log=False,
            timeout_keep_alive=settings.HTTP_KEEPALIVE_S,
            # On SIGTERM, in-flight answers get this long to finish and release their holds.
            timeout_graceful_shutdown=settings.GRACEFUL_SHUTDOWN_S,
            limit_concurrency=settings.WEB_MAX_CONNECTIONS,
            proxy_headers=True,
            forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
            lifespan="off",
        )
