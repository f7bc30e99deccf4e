from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "library"

    def ready(self) -> None:
        # The ingestion worker's start-up recovery and heartbeat (a no-op outside a worker).
        from library import signals

        signals.connect()
