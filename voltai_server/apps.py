from django.apps import AppConfig


class VoltaiServerConfig(AppConfig):
    """Wiring only: holds the commands that start things (serve, demo setup)."""

    name = "voltai_server"
