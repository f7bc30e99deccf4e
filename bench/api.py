"""Chat API over HTTP against the real server: query latency, and /chat/sessions/ against /healthz.

Sets up its own data folder and embedded database (an org with two real datasheets and an
API key), starts `manage.py serve` (uvicorn, several workers), warms every worker, then:

- POST /chat/query/ in FAST mode, end to end over HTTP, one request at a time: p50/p95.
- requests/s of GET /chat/sessions/ and of GET /healthz on the same server in the same run,
  with the same client concurrency. /healthz is one SQL round trip and no auth, so it is the
  floor of what a request costs here; target: sessions/healthz >= 0.5.

    .venv/bin/python bench/api.py [--queries N] [--seconds S] [--workers W] [--concurrency C]

Prints a table and writes bench/results/api.json.
"""

import argparse
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path

from _django import setup_django  # bench/ is first on sys.path when a script runs
from _server import start_server, stop_server

ROOT = setup_django("bench-api")

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from library.ingest import document_ingest  # noqa: E402
from library.models import Document  # noqa: E402
from library.services import document_upload  # noqa: E402
from orgs.models import Organization  # noqa: E402
from orgs.services import api_key_create, org_create  # noqa: E402
from topics.models import Topic  # noqa: E402

DATASHEETS = ROOT.parent / "shared" / "datasheets"
RESULTS = ROOT / "bench" / "results" / "api.json"
BENCH_ORG = "bench-api"
PDFS = ["bosch-bme280.pdf", "ti-ads1115.pdf"]
QUESTIONS = [
    "What is the I2C address of the BME280?",
    "What is the supply voltage range of the BME280?",
    "What is the maximum data rate of the ADS1115?",
    "How much current does the ADS1115 draw in continuous mode?",
    "What pressure range does the BME280 measure?",
    "What are the full-scale ranges of the ADS1115 PGA?",
]


def prepare() -> str:
    """A fresh org with the datasheets ingested by the real pipeline; returns a raw API key."""
    call_command("migrate", verbosity=0)
    Organization.objects.filter(name=BENCH_ORG).delete()
    org = org_create(name=BENCH_ORG)
    topic = Topic.objects.create(org=org, name="Bench")
    for name in PDFS:
        result = document_upload(
            org=org, filename=name, data=(DATASHEETS / name).read_bytes(), enqueue=lambda _id: None
        )
        document_ingest(document_id=result.document.pk)
        document = Document.objects.get(pk=result.document.pk)
        assert document.status == Document.Status.READY, (name, document.error)
        document.topics.add(topic)
    return api_key_create(org=org, label="bench").raw_key


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def query_latencies(base: str, key: str, count: int) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    modes: list[str] = []
    with httpx.Client(base_url=base, headers={"X-API-KEY": key}, timeout=120) as client:
        for n in range(count):
            body = {"query": QUESTIONS[n % len(QUESTIONS)], "user_id": f"bench-{n % 4}", "mode": "FAST"}
            started = time.perf_counter()
            response = client.post("/chat/query/", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            modes.append(response.json()["mode"])
    return latencies, modes


def throughput(base: str, path: str, headers: dict[str, str], seconds: float, concurrency: int) -> dict:
    counts = [0] * concurrency
    errors = [0] * concurrency
    stop_at = time.monotonic() + seconds

    def run(slot: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while time.monotonic() < stop_at:
                if client.get(path).status_code == 200:
                    counts[slot] += 1
                else:
                    errors[slot] += 1

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"requests": sum(counts), "errors": sum(errors), "seconds": round(elapsed, 2), "rps": sum(counts) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    print(f"preparing {BENCH_ORG} with {', '.join(PDFS)} ...", flush=True)
    key = prepare()
    latencies, modes, rounds = measure(args, key)
    healthz, sessions = total(rounds, "healthz"), total(rounds, "sessions")
    ratio = sessions["rps"] / healthz["rps"]
    result = {
        "server": f"manage.py serve, {args.workers} uvicorn workers, embedded PostgreSQL, LLM_BACKEND=extractive",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "documents": PDFS,
        "query_fast": {
            "requests": len(latencies),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "max_ms": round(max(latencies), 1),
            "modes": sorted(set(modes)),
        },
        "concurrency": args.concurrency,
        "healthz": healthz,
        "sessions": sessions,
        "sessions_over_healthz": round(ratio, 2),
        "target_ratio": 0.5,
        "meets_target": ratio >= 0.5,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result, args.concurrency)
    if not result["meets_target"]:
        raise SystemExit(1)


def measure(args: argparse.Namespace, key: str) -> tuple[list[float], list[str], list[tuple[str, dict]]]:
    """FAST query latencies, then rounds of /healthz and /chat/sessions/ throughput, on a fresh server."""
    process, base = start_server(args.workers, log_path=Path(settings.DATA_DIR) / "bench-api-server.log")
    try:
        # Warm every worker (model load, connections) before measuring.
        query_latencies(base, key, 3 * args.workers)
        latencies, modes = query_latencies(base, key, args.queries)
        auth = {"X-API-KEY": key}
        # Interleave the two endpoints so a load spike on the shared machine hits both.
        rounds = []
        for _ in range(2):
            rounds.append(("healthz", throughput(base, "/healthz", {}, args.seconds / 2, args.concurrency)))
            rounds.append(("sessions", throughput(base, "/chat/sessions/", auth, args.seconds / 2, args.concurrency)))
    finally:
        stop_server(process)
    return latencies, modes, rounds


def total(rounds: list[tuple[str, dict]], name: str) -> dict:
    parts = [result for label, result in rounds if label == name]
    requests = sum(part["requests"] for part in parts)
    seconds = sum(part["seconds"] for part in parts)
    return {"requests": requests, "errors": sum(p["errors"] for p in parts), "rps": round(requests / seconds, 1)}


def print_table(result: dict, concurrency: int) -> None:
    healthz, sessions = result["healthz"], result["sessions"]
    print()
    print("| measure | value |")
    print("| --- | --- |")
    query = result["query_fast"]
    latency = f"p50 {query['p50_ms']} ms, p95 {query['p95_ms']} ms"
    print(f"| POST /chat/query/ FAST, {query['requests']} sequential | {latency} |")
    print(f"| GET /healthz, {concurrency} clients | {healthz['rps']} req/s ({healthz['errors']} errors) |")
    print(f"| GET /chat/sessions/, {concurrency} clients | {sessions['rps']} req/s ({sessions['errors']} errors) |")
    print(f"| sessions / healthz | {result['sessions_over_healthz']} (target >= 0.5) |")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
