"""`python manage.py prepare_embeddings`: make the embedding model ready before serving.

On the onnx backend this is the one-time ONNX export (tens of seconds), so `make run` pays it
before the server takes requests rather than in the first upload or question. Safe to run
while other processes start: they share one export.
"""

import time
from typing import Any

from django.core.management.base import BaseCommand

from library.embeddings import prepare


class Command(BaseCommand):
    help = "Make the embedding model ready (on the onnx backend: export it to ONNX once)."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        ready = prepare()
        self.stdout.write(f"{ready} ({time.monotonic() - started:.1f} s)")
