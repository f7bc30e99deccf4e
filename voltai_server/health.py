"""Probes for load balancers: liveness of the process and reachability of the database."""

from django.db import connection
from django.http import HttpRequest, JsonResponse


def _database_status() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as exc:  # any failure to reach the database is a failed probe
        return False, f"database unreachable: {type(exc).__name__}"
    if row is None:
        return False, "the vector extension is not installed"
    return True, f"pgvector {row[0]}"


def healthz(request: HttpRequest) -> JsonResponse:
    ok, detail = _database_status()
    return JsonResponse({"status": "ok" if ok else "error", "database": detail}, status=200 if ok else 503)
