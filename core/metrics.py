"""Prometheus metrics every app reports to, and the registry /metrics serves.

Under `manage.py serve` several worker processes share PROMETHEUS_MULTIPROC_DIR (set by the
command before the workers start), so /metrics adds up every worker's counts.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client import multiprocess as prometheus_multiprocess

HTTP_REQUESTS = Counter(
    "voltai_http_requests_total", "HTTP requests by endpoint, method and status.", ["endpoint", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "voltai_http_request_duration_seconds",
    "Time to the response headers, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
API_ERRORS = Counter("voltai_api_errors_total", "API errors by error code (429s by kind among them).", ["code"])
ANSWER_LATENCY = Histogram(
    "voltai_answer_duration_seconds",
    "Time to a complete answer, by the mode that ran.",
    ["mode"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)


def registry() -> CollectorRegistry:
    """The registry to expose: every worker's metrics in multiprocess mode, else this process's."""
    from prometheus_client import REGISTRY

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(combined)
        return combined
    return REGISTRY
