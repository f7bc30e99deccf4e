"""Load: many clients against a real server, then proof from the database that the limits held.

    VOLTAI_DATA_DIR=var/bench-load .venv/bin/python bench/load.py [--clients 32] [--users 20]
        [--seconds 60] [--max-sessions 12] [--workers 2]

This process is the load generator; it starts `manage.py serve` (uvicorn, several workers) on a
free loopback port against its own embedded PostgreSQL, with the ten real datasheets restored
from the test suite's ingestion cache (or ingested once by the real pipeline) and the default
extractive backend. Two phases, same mix, same server:

- baseline: one client for --baseline-seconds (latency with no contention);
- load: --clients concurrent clients over --users user_ids for --seconds, with the org's
  max_sessions below the number of users. Each client loops: FAST JSON query, AGENTIC JSON
  query, SSE stream (FAST or AGENTIC) or GET /chat/sessions/, for a random user_id.
  A client that gets a 429 waits 100 ms, as a polite client would.

Afterwards, from the database (never from the client's own bookkeeping):
- one request in flight per (key, user_id): the question is stored after its hold is taken
  and the answer before the hold is released, so each stored turn's [question, answer]
  interval lies inside its hold; no two such intervals of one (key, user_id) may overlap;
- seats: the distinct user_ids with a question in any five-minute window never exceed
  max_sessions;
- every admitted request (a stored question) has its stored, complete answer, and the number
  of admitted requests equals the number of 200 responses the clients saw;
- no 5xx: none seen by the clients, none counted in the server's /metrics, no SSE `error`.

Prints a table and writes bench/results/load.json. Exits non-zero if a check fails.
"""

import argparse
import itertools
import json
import os
import platform
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta

from _django import setup_django  # bench/ is first on sys.path when a script runs
from _server import start_server, stop_server

ROOT = setup_django("bench-load")

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from chat.models import Chat, Message, RequestHold, Seat  # noqa: E402
from orgs.models import Organization  # noqa: E402
from orgs.services import api_key_create, org_create  # noqa: E402

DATASHEETS = ROOT.parent / "shared" / "datasheets"
RESULTS = ROOT / "bench" / "results" / "load.json"
KINDS = ("fast", "agentic", "sse", "sessions")
WEIGHTS = (0.35, 0.2, 0.25, 0.2)
REQUEST_TIMEOUT_S = 90


@dataclass
class Outcome:
    kind: str
    user_id: str
    started: float
    seconds: float
    status: int  # HTTP status; an SSE stream that ended with `error` counts as its error's status
    error: str = ""


def library_org() -> Organization:
    """The datasheets, restored from the test suite's cache of the real pipeline's output."""
    from tests.datasheets import _pipeline_fingerprint, restore_library, snapshot_ingestion

    name = f"load-{_pipeline_fingerprint()}"
    org = Organization.objects.filter(name=name).first()
    if org is None:
        for old in Organization.objects.filter(name__startswith="load-"):
            old.delete()
        org = restore_library(snapshot_ingestion(), org_name=name)
    return org


def database_url() -> str:
    params = connection.get_connection_params()
    return (
        f"postgresql://{params.get('user', 'postgres')}:@/{settings.DATABASES['default']['NAME']}?host={params['host']}"
    )


def server_env() -> dict[str, str]:
    return {
        "DATABASE_URL": database_url(),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-load-secret-key"),
        "LLM_BACKEND": "extractive",
    }


def one_request(client: httpx.Client, kind: str, user_id: str, question: str) -> Outcome:
    started = time.monotonic()
    status, error = 0, ""
    try:
        if kind == "sessions":
            response = client.get("/chat/sessions/")
            status = response.status_code
        elif kind in ("fast", "agentic"):
            response = client.post("/chat/query/", json={"query": question, "user_id": user_id, "mode": kind.upper()})
            status = response.status_code
            if status >= 400:
                error = response.json().get("error", "")
        else:
            body = {"query": question, "user_id": user_id, "mode": random.choice(["FAST", "AGENTIC"])}
            with client.stream("POST", "/chat/query/", json=body, headers={"Accept": "text/event-stream"}) as stream:
                status = stream.status_code
                if status != 200:
                    error = json.loads(stream.read()).get("error", "")
                else:
                    last_event = ""
                    for line in stream.iter_lines():
                        if line.startswith("event:"):
                            last_event = line.split(":", 1)[1].strip()
                    if last_event != "done":
                        status, error = 599, f"stream ended with {last_event or 'nothing'}"
    except httpx.HTTPError as exc:
        status, error = 598, type(exc).__name__
    return Outcome(kind, user_id, started, time.monotonic() - started, status, error)


def run_clients(
    *,
    base_url: str,
    raw_key: str,
    clients: int,
    users: list[str],
    seconds: float,
    questions: list[str],
    at_least_once: bool = False,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        user = users[seed % len(users)] if at_least_once else None
        with httpx.Client(base_url=base_url, headers={"X-API-KEY": raw_key}, timeout=REQUEST_TIMEOUT_S) as client:
            first = at_least_once
            while first or time.monotonic() < stop_at:
                first = False
                kind = "fast" if at_least_once else rng.choices(KINDS, WEIGHTS)[0]
                outcome = one_request(client, kind, user or rng.choice(users), rng.choice(questions))
                with lock:
                    outcomes.append(outcome)
                if outcome.status == 429:
                    time.sleep(0.1)

    threads = [threading.Thread(target=client_loop, args=(seed,)) for seed in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def warm_up(base_url: str, raw_key: str, workers: int) -> None:
    """Load the embedding model in every worker: rounds of concurrent questions until a whole
    round answers quickly (the kernel may hand one worker most connections of a round)."""
    for round_number in range(8):
        outcomes = run_clients(
            base_url=base_url,
            raw_key=raw_key,
            clients=2 * workers + 2,
            users=[f"warm-{round_number}-{n}" for n in range(2 * workers + 2)],
            seconds=0,
            questions=["supply voltage"],
            at_least_once=True,
        )
        if all(o.status == 200 and o.seconds < 3 for o in outcomes):
            return


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def summarise(outcomes: list[Outcome], seconds: float) -> dict:
    by_kind: dict[str, dict] = {}
    for kind in KINDS:
        rows = [o for o in outcomes if o.kind == kind]
        ok = [o.seconds for o in rows if o.status == 200]
        by_kind[kind] = {
            "requests": len(rows),
            "ok": len(ok),
            "ok_per_s": round(len(ok) / seconds, 2),
            "p50_ms": round(percentile(ok, 0.50) * 1000, 1),
            "p95_ms": round(percentile(ok, 0.95) * 1000, 1),
            "p99_ms": round(percentile(ok, 0.99) * 1000, 1),
            "429_user": sum(1 for o in rows if o.error == "user_session_limit_exceeded"),
            "429_seats": sum(1 for o in rows if o.error == "session_limit_exceeded"),
            "5xx": sum(1 for o in rows if o.status >= 500),
            "other": dict(Counter(str(o.status) for o in rows if o.status not in (200, 429) and o.status < 500)),
        }
    ok_total = sum(1 for o in outcomes if o.status == 200)
    return {
        "seconds": round(seconds, 1),
        "requests": len(outcomes),
        "ok": ok_total,
        "throughput_ok_per_s": round(ok_total / seconds, 2),
        "kinds": by_kind,
    }


def server_5xx(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=30).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("voltai_http_requests_total{") and 'status="5' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def database_checks(*, org: Organization, api_key_pk: int, max_sessions: int, admitted_by_clients: int) -> dict:
    """The limits, proven from what the server stored (see the module docstring)."""
    turns: dict[str, list[tuple]] = defaultdict(list)
    questions = 0
    unanswered: list[str] = []
    incomplete: list[str] = []
    for chat in Chat.objects.filter(org=org, api_key_id=api_key_pk).prefetch_related("messages"):
        messages = sorted(chat.messages.all(), key=lambda m: (m.created_at, m.pk))
        for index, message in enumerate(messages):
            if message.role != Message.Role.USER:
                continue
            questions += 1
            answer = next((m for m in messages[index + 1 :] if m.role == Message.Role.ASSISTANT), None)
            if answer is None:
                unanswered.append(str(chat.pk))
                continue
            if answer.status != Message.Status.COMPLETE:
                incomplete.append(f"{chat.pk}:{answer.status}:{answer.error}")
            turns[chat.user_id].append((message.created_at, answer.created_at, str(chat.pk)))
    overlaps = []
    for user_id, intervals in turns.items():
        intervals.sort()
        for previous, current in itertools.pairwise(intervals):
            if current[0] < previous[1]:
                overlaps.append({"user_id": user_id, "first": previous[2], "second": current[2]})
    window = timedelta(seconds=settings.SEAT_WINDOW_SECONDS)
    starts = sorted((start, user_id) for user_id, intervals in turns.items() for start, _, _ in intervals)
    most_seats = 0
    for start, _ in starts:
        active = {user_id for other, user_id in starts if start - window < other <= start}
        most_seats = max(most_seats, len(active))
    return {
        "admitted_requests": questions,
        "admitted_seen_by_clients": admitted_by_clients,
        "two_in_flight_for_one_user": len(overlaps),
        "overlap_examples": overlaps[:5],
        "most_seats_in_a_window": most_seats,
        "max_sessions": max_sessions,
        "questions_without_answer": len(unanswered),
        "answers_not_complete": len(incomplete),
        "incomplete_examples": incomplete[:5],
        "holds_left": RequestHold.objects.filter(org=org).count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--max-sessions", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.clients > 200 or args.seconds > 600:
        raise SystemExit("--clients ≤ 200 and --seconds ≤ 600 keep this bench bounded")

    call_command("migrate", verbosity=0)
    org = library_org()
    # A clean slate: seats and holds of an earlier run would count against this one.
    Chat.objects.filter(org=org).delete()
    Seat.objects.filter(org=org).delete()
    RequestHold.objects.filter(org=org).delete()
    Organization.objects.filter(pk=org.pk).update(max_sessions=args.max_sessions)
    load_key = api_key_create(org=org, label="bench-load")
    baseline, outcomes, elapsed, fives_on_server = run_phases(args, org, load_key.raw_key)
    load = summarise(outcomes, elapsed)
    admitted_by_clients = sum(1 for o in outcomes if o.kind != "sessions" and o.status == 200)
    checks = database_checks(
        org=org,
        api_key_pk=load_key.api_key.pk,
        max_sessions=args.max_sessions,
        admitted_by_clients=admitted_by_clients,
    )
    checks["server_5xx"] = fives_on_server
    checks["client_5xx"] = sum(1 for o in outcomes if o.status >= 500)
    passed = {
        "one request in flight per (key, user_id)": checks["two_in_flight_for_one_user"] == 0,
        "seats never above max_sessions": checks["most_seats_in_a_window"] <= args.max_sessions,
        "every admitted request has its complete answer": checks["questions_without_answer"] == 0
        and checks["answers_not_complete"] == 0
        and checks["admitted_requests"] == admitted_by_clients,
        "no 5xx": checks["server_5xx"] == 0 and checks["client_5xx"] == 0,
        "no hold left behind": checks["holds_left"] == 0,
    }
    result = {
        "config": {**vars(args), "python": platform.python_version(), "cpus": os.cpu_count()},
        "baseline": summarise(baseline, args.baseline_seconds),
        "load": load,
        "checks": checks,
        "passed": passed,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_table(result)
    return 0 if all(passed.values()) else 1


def run_phases(
    args: argparse.Namespace, org: Organization, raw_key: str
) -> tuple[list[Outcome], list[Outcome], float, float]:
    """On a fresh server: warm up, the one-client baseline, then the load; and the server's 5xx."""
    warm_org = Organization.objects.filter(name="load-warm-up").first() or org_create(name="load-warm-up")
    warm_key = api_key_create(org=warm_org, label="bench-load-warm-up")
    baseline_key = api_key_create(org=org, label="bench-load-baseline")
    questions = [json.loads(line)["question"] for line in (DATASHEETS / "dev_qa.jsonl").read_text().splitlines()]
    process, base_url = start_server(args.workers, log_path=ROOT / "var" / "bench-load-server.log", env=server_env())
    try:
        warm_up(base_url, warm_key.raw_key, args.workers)
        # The baseline: the same library and mix, one client, nothing to contend with.
        baseline = run_clients(
            base_url=base_url,
            raw_key=baseline_key.raw_key,
            clients=1,
            users=["baseline"],
            seconds=args.baseline_seconds,
            questions=questions,
        )
        # The baseline's seat must not take one of the load's seats.
        Seat.objects.filter(org=org).delete()
        users = [f"load-user-{n:02d}" for n in range(args.users)]
        started = time.monotonic()
        outcomes = run_clients(
            base_url=base_url,
            raw_key=raw_key,
            clients=args.clients,
            users=users,
            seconds=args.seconds,
            questions=questions,
        )
        elapsed = time.monotonic() - started
        fives_on_server = server_5xx(base_url)
    finally:
        stop_server(process)
    return baseline, outcomes, elapsed, fives_on_server


def print_table(result: dict) -> None:
    config = result["config"]
    print(
        f"\nLoad: {config['clients']} clients, {config['users']} user_ids, max_sessions={config['max_sessions']}, "
        f"{config['workers']} workers, {result['load']['seconds']} s "
        f"(baseline: 1 client, {config['baseline_seconds']} s)\n"
    )
    header = (
        f"{'phase':<9}{'kind':<10}{'requests':>9}{'ok':>6}{'ok/s':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'429 user':>10}{'429 seats':>11}{'5xx':>5}"
    )
    print(header)
    print("-" * len(header))
    for phase in ("baseline", "load"):
        for kind, row in result[phase]["kinds"].items():
            print(
                f"{phase:<9}{kind:<10}{row['requests']:>9}{row['ok']:>6}{row['ok_per_s']:>7}{row['p50_ms']:>9}"
                f"{row['p95_ms']:>9}{row['p99_ms']:>9}{row['429_user']:>10}{row['429_seats']:>11}{row['5xx']:>5}"
            )
    print(f"\nthroughput under load: {result['load']['throughput_ok_per_s']} ok/s ({result['load']['ok']} ok)")
    checks = result["checks"]
    print(
        f"admitted {checks['admitted_requests']} (clients saw {checks['admitted_seen_by_clients']}), "
        f"most seats {checks['most_seats_in_a_window']}/{checks['max_sessions']}, "
        f"overlaps {checks['two_in_flight_for_one_user']}, unanswered {checks['questions_without_answer']}, "
        f"incomplete {checks['answers_not_complete']}, 5xx server {checks['server_5xx']} client {checks['client_5xx']}"
    )
    for name, ok in result["passed"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
