"""Answer quality: every mode of the agent against retrieval baselines, on three question sets.

One organization holds all twenty datasheets (../shared/datasheets and
../shared/datasheets-extra). Each question set runs through `agent.services.answer` (the
service the API calls) in FAST, AGENTIC and AUTO mode with the configured backend (default:
extractive), or with --http as an application asks: POST /chat/query/ with an API key to
`manage.py serve` over this library. In the same run two retrieval baselines score the very
same chunks: BM25 only (`rank_bm25`) and dense only (pgvector cosine).

    VOLTAI_DATA_DIR=var/bench-agent .venv/bin/python bench/eval_qa.py [--http]
    VOLTAI_DATA_DIR=var/bench-agent .venv/bin/python bench/eval_qa.py --qa bench/qa_extra.jsonl

The sets: the shared dev set (tuned on), bench/qa_extra.jsonl (36 questions over the dev
datasheets) and bench/qa_datasheets_extra.jsonl (48 over the ten extra datasheets), both
held out: written from the PDFs alone without looking at the engine, never tuned on; and
bench/qa_fresh.jsonl (40 over all twenty, written later the same way, its answers never read
while the engine was changed, since the other two had been read for their misses).

The datasheets are ingested once by the real pipeline into an org named after a
fingerprint of the pipeline code, so a change to parsing or chunking re-ingests.
Prints one table and writes bench/results/eval_qa.json (dev) and eval_qa-<set>.json.

Scoring. hit@k: the right file and page is among the first k *cited* sources of the answer
(retrieval baselines: among the first k pages of their ranking). A lookup's `also_pages`
count as right. For comparison and multi-hop items, which need several pages, a hit is
any of the item's `sources` pages among the first k. Keyword accuracy: the share of answers
containing every `answer_keywords` string, matched as SOURCES.md says (NFKC, lower case,
dashes unified, thousands separators dropped, whitespace optional except inside numbers,
digit boundaries, trailing zeros after a decimal point allowed); "kw 1st": every keyword in
the answer's first line. "chars": the median length of look-up answers.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

from _django import setup_django  # bench/ is first on sys.path when a script runs
from _server import start_server, stop_server

ROOT = setup_django("bench-agent")

import httpx  # noqa: E402
from django.core.management import call_command  # noqa: E402

from library.ingest import document_ingest  # noqa: E402
from library.models import Document  # noqa: E402
from library.services import document_delete, document_upload  # noqa: E402
from orgs.models import Organization  # noqa: E402
from orgs.services import org_create  # noqa: E402
from topics.models import Topic  # noqa: E402

DATASHEETS = ROOT.parent / "shared" / "datasheets"
EXTRA_DATASHEETS = ROOT.parent / "shared" / "datasheets-extra"
DEV_QA = DATASHEETS / "dev_qa.jsonl"
QA_SETS = [
    DEV_QA,
    ROOT / "bench" / "qa_extra.jsonl",
    ROOT / "bench" / "qa_datasheets_extra.jsonl",
    ROOT / "bench" / "qa_fresh.jsonl",
]
RESULTS = ROOT / "bench" / "results" / "eval_qa.json"
TOPICS = {
    "Sensors": ["bosch-bme280.pdf", "st-lsm6ds33.pdf", "adi-adxl345.pdf"],
    "Data converters": ["ti-ads1115.pdf"],
    "Interface": ["microchip-mcp2515.pdf", "ftdi-ft232r.pdf", "nxp-pca9685.pdf"],
    "Power": ["infineon-irf540n.pdf", "renesas-icl7660.pdf"],
    "Wireless": ["espressif-esp32-wroom-32.pdf"],
}


def pipeline_fingerprint() -> str:
    import inspect

    from library import ingest

    digest = hashlib.sha256()
    library = ROOT / "library"
    code = sorted((library / "parsing").glob("*.py"))  # pdf_text.py and chunking.py among them
    for path in [*code, *(library / name for name in ("embeddings.py", "model_spec.py", "onnx_encoder.py"))]:
        if path.exists():
            digest.update(path.read_bytes())
    # Only what decides the chunks of ingest.py; its other edits leave the chunks alone.
    for name in ("_PagePipeline", "_chunk_document", "embedding_input"):
        if hasattr(ingest, name):
            digest.update(inspect.getsource(getattr(ingest, name)).encode())
    for path in library_pdfs():
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]


def library_pdfs() -> list[Path]:
    """All twenty datasheets: the dev set's ten and the ten extra ones, in one organization."""
    return sorted([*DATASHEETS.glob("*.pdf"), *EXTRA_DATASHEETS.glob("*.pdf")], key=lambda path: path.name)


def ensure_library() -> Organization:
    """The bench org with every datasheet ingested by the current pipeline code."""
    call_command("migrate", verbosity=0)
    name = f"bench-qa-{pipeline_fingerprint()}"
    org = Organization.objects.filter(name=name).first()
    if org is not None and not Document.objects.filter(org=org).exclude(status=Document.Status.READY).exists():
        return org
    for old in Organization.objects.filter(name__startswith="bench-qa-"):
        for document in Document.objects.filter(org=old):
            document_delete(document=document)
        old.delete()
    org = org_create(name=name)
    topic_of = {}
    for topic_name, files in TOPICS.items():
        topic = Topic.objects.create(org=org, name=topic_name)
        topic_of.update({file: topic for file in files})
    for path in library_pdfs():
        print(f"ingesting {path.name}", file=sys.stderr)
        result = document_upload(
            org=org,
            filename=path.name,
            data=path.read_bytes(),
            topics=[topic_of[path.name]] if path.name in topic_of else [],
            enqueue=lambda _id: None,
        )
        document_ingest(document_id=result.document.pk)
    return org


# --- keyword matching (SOURCES.md) ----------------------------------------------------------

_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DASHES.sub("-", text)
    text = _THOUSANDS.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    chars = [ch for ch in normalise(keyword)]
    out = []
    for index, ch in enumerate(chars):
        if ch == " ":
            before, after = chars[index - 1], chars[index + 1] if index + 1 < len(chars) else ""
            out.append(r"\s+" if before.isdigit() and after.isdigit() else r"\s*")
            continue
        if out and chars[index - 1] != " ":
            previous = chars[index - 1]
            inside_number = (previous.isdigit() or previous == ".") and (ch.isdigit() or ch == ".")
            if not inside_number:
                out.append(r"\s*")
        out.append(re.escape(ch))
    pattern = "".join(out)
    if chars and chars[0].isdigit():
        pattern = r"(?<![\d.])(?<!\d\.)" + pattern
    if chars and chars[-1].isdigit():
        if "." in keyword:
            pattern += "0*"
        pattern += r"(?!\.?\d)"
    return re.compile(pattern)


def keywords_found(answer: str, keywords: list[str]) -> bool:
    text = normalise(answer)
    return all(keyword_pattern(k).search(text) for k in keywords)


# --- scoring --------------------------------------------------------------------------------


def right_pages(item: dict) -> set[tuple[str, int]]:
    pages = {(s["source_name"], s["page"]) for s in item["sources"]}
    pages |= {(item["source_name"], page) for page in item.get("also_pages", [])}
    return pages


def hit_at(cited: list[tuple[str, int]], item: dict, k: int) -> bool:
    return any(page in right_pages(item) for page in cited[:k])


def first_line(answer: str) -> str:
    """The answer's first non-empty line: what a reader sees first."""
    return next((line for line in answer.splitlines() if line.strip()), "")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run_mode(org: Organization, items: list[dict], mode: str) -> dict:
    """Each question through `agent.services.answer`, the service the API calls."""
    from agent.services import answer

    rows = []
    for item in items:
        started = time.perf_counter()
        done = answer(org=org, query=item["question"], mode=mode)
        elapsed = (time.perf_counter() - started) * 1000
        cited = [(s.source_name, s.page) for s in done.sources]
        rows.append(scored_row(item, done.answer, cited, done.mode, elapsed))
    return summarise(rows) | {"items": rows}


def run_mode_http(client: httpx.Client, items: list[dict], mode: str) -> dict:
    """Each question as an application asks it: POST /chat/query/ to a running server."""
    rows = []
    for item in items:
        started = time.perf_counter()
        response = client.post("/chat/query/", json={"query": item["question"], "user_id": "eval-qa", "mode": mode})
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        body = response.json()
        cited = [(s["source_name"], s["page"]) for s in body["sources"]]
        rows.append(scored_row(item, body["final_answer"], cited, body["mode"], elapsed))
    return summarise(rows) | {"items": rows}


def scored_row(item: dict, answer: str, cited: list[tuple[str, int]], mode: str, ms: float) -> dict:
    return {
        "id": item["id"],
        "kind": item["kind"],
        "mode": mode,
        "cited": cited,
        "hit1": hit_at(cited, item, 1),
        "hit5": hit_at(cited, item, 5),
        "keywords": keywords_found(answer, item["answer_keywords"]),
        "first_line_keywords": keywords_found(first_line(answer), item["answer_keywords"]),
        "chars": len(answer),
        "ms": ms,
        "answer": answer,
    }


def summarise(rows: list[dict]) -> dict:
    hard = [r for r in rows if r["kind"] != "lookup"]
    return {
        "hit@1": round(sum(r["hit1"] for r in rows) / len(rows), 3),
        "hit@5": round(sum(r["hit5"] for r in rows) / len(rows), 3),
        "keyword_accuracy": round(sum(r["keywords"] for r in rows) / len(rows), 3),
        "keyword_accuracy_comparison_multihop": round(sum(r["keywords"] for r in hard) / max(1, len(hard)), 3),
        "first_line_keyword_accuracy": round(sum(r["first_line_keywords"] for r in rows) / len(rows), 3),
        "median_chars": round(statistics.median(r["chars"] for r in rows)),
        "median_chars_lookup": round(statistics.median([r["chars"] for r in rows if r["kind"] == "lookup"] or [0])),
        "avg_sources": round(sum(len(r["cited"]) for r in rows) / len(rows), 2),
        "median_ms": round(statistics.median(r["ms"] for r in rows), 1),
        "p95_ms": round(percentile([r["ms"] for r in rows], 0.95), 1),
    }


def ranked_pages(chunk_pages: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return list(dict.fromkeys(chunk_pages))


def baselines(org: Organization, items: list[dict]) -> dict:
    """BM25 only and dense only, over the same chunks, scored on their top pages."""
    from django.db import connection
    from rank_bm25 import BM25Okapi

    from library.embeddings import embed_query
    from library.models import Chunk
    from library.search import page_search

    chunks = list(Chunk.objects.filter(org=org).values_list("id", "document__source_name", "page", "text"))
    tokenise = re.compile(r"[a-z0-9]+(?:[._][a-z0-9]+)*")
    bm25 = BM25Okapi([tokenise.findall(text.lower()) for _, _, _, text in chunks])
    results: dict[str, dict] = {}
    rows: dict[str, list[dict]] = {"bm25": [], "dense": [], "hybrid_pages": []}
    for item in items:
        question = item["question"]
        scores = bm25.get_scores(tokenise.findall(question.lower()))
        order = sorted(range(len(chunks)), key=lambda i: -scores[i])[:50]
        bm25_pages = ranked_pages([(chunks[i][1], chunks[i][2]) for i in order])
        vector = embed_query(question)
        literal = "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT d.source_name, c.page FROM library_chunk c JOIN library_document d ON d.id = c.document_id"
                " WHERE c.org_id = %s ORDER BY c.embedding <=> %s::vector LIMIT 50",
                [org.pk, literal],
            )
            dense_pages = ranked_pages([(row[0], row[1]) for row in cursor.fetchall()])
        found = page_search(org=org, query=question, query_embedding=[float(x) for x in vector]).pages
        hybrid = [(p.source_name, p.page) for p in found]
        for name, pages in (("bm25", bm25_pages), ("dense", dense_pages), ("hybrid_pages", hybrid)):
            rows[name].append({"id": item["id"], "hit1": hit_at(pages, item, 1), "hit5": hit_at(pages, item, 5)})
    for name, scored in rows.items():
        results[name] = {
            "hit@1": round(sum(r["hit1"] for r in scored) / len(scored), 3),
            "hit@5": round(sum(r["hit5"] for r in scored) / len(scored), 3),
        }
    return results


def evaluate(org: Organization, path: Path, modes: list[str], verbose: bool, client: httpx.Client | None) -> dict:
    """One question set in every mode (over HTTP when given a client) and the baselines; saves
    its JSON and returns the summary."""
    from django.conf import settings

    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    results = results_path(path)
    if client is None:
        by_mode = {mode: run_mode(org, items, mode) for mode in modes}
    else:
        by_mode = {mode: run_mode_http(client, items, mode) for mode in modes}
    summary = {
        "backend": settings.LLM_BACKEND,
        "through": "HTTP: POST /chat/query/ to manage.py serve" if client else "agent.services.answer",
        "questions": str(path.name),
        "library": [p.name for p in library_pdfs()],
        "items": len(items),
        "modes": {mode: {k: v for k, v in result.items() if k != "items"} for mode, result in by_mode.items()},
        "baselines": baselines(org, items),
        "targets": {
            "hit@1": ">= 0.75 and above both baselines",
            "keyword_accuracy": ">= 0.70",
            "first_line_keyword_accuracy": ">= 0.50",
            "avg_sources": "<= 3",
            "FAST median_ms": "<= 150",
            "median_chars_lookup": "<= 350",
        },
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "per_item": {mode: result["items"] for mode, result in by_mode.items()},
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if verbose:
        for mode, result in by_mode.items():
            for row in result["items"]:
                if not (row["hit1"] and row["keywords"]):
                    miss = ("hit1" if row["hit1"] else "MISS1", "kw" if row["keywords"] else "NOKW")
                    print(mode, row["id"], row["kind"], row["mode"], row["cited"], *miss, "|", row["answer"][:300])
    return summary


def print_table(summaries: list[dict]) -> None:
    columns = ["hit@1", "hit@5", "kw", "kw 1st", "kw c+m", "sources", "chars", "p50 ms", "p95 ms"]
    print(f"{'set':24} {'run':16} " + " ".join(f"{c:>8}" for c in columns))
    for summary in summaries:
        name = summary["questions"].removesuffix(".jsonl")[:24]
        for mode, r in summary["modes"].items():
            values = [r["hit@1"], r["hit@5"], r["keyword_accuracy"], r["first_line_keyword_accuracy"]]
            values += [r["keyword_accuracy_comparison_multihop"], r["avg_sources"]]
            print(
                f"{name:24} {mode + ' (' + summary['backend'][:5] + ')':16} "
                + " ".join(f"{v:>8.3f}" for v in values[:5])
                + f" {values[5]:>8.2f} {r['median_chars_lookup']:>8} {r['median_ms']:>8.1f} {r['p95_ms']:>8.1f}"
            )
        labels = {"bm25": "BM25 only", "dense": "dense only", "hybrid_pages": "page ranking"}
        for key, r in summary["baselines"].items():
            print(f"{name:24} {labels[key]:16} {r['hit@1']:>8.3f} {r['hit@5']:>8.3f}" + f" {'-':>8}" * 7)


def results_path(questions: Path) -> Path:
    """Where a question set's results go: eval_qa.json for the dev set, eval_qa-<set>.json else."""
    return RESULTS if questions.resolve() == DEV_QA.resolve() else RESULTS.with_name(f"eval_qa-{questions.stem}.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest-only", action="store_true", help="only make sure the library is ingested")
    parser.add_argument("--modes", nargs="+", default=["FAST", "AGENTIC", "AUTO"], choices=["FAST", "AGENTIC", "AUTO"])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every miss")
    parser.add_argument(
        "--qa",
        type=Path,
        nargs="+",
        default=QA_SETS,
        help="question files (default: the dev set, then our three held-out sets)",
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="ask over HTTP: POST /chat/query/ with an API key to `manage.py serve` on this library",
    )
    args = parser.parse_args()
    org = ensure_library()
    if args.ingest_only:
        print(org.name)
        return
    if args.http:
        summaries = evaluate_over_http(org, args)
    else:
        from agent.services import answer

        answer(org=org, query="warm-up: BME280 supply voltage", mode="FAST")  # model load outside timings
        summaries = [evaluate(org, path, args.modes, args.verbose, client=None) for path in args.qa]
    print_table(summaries)
    print("\nsaved " + ", ".join(results_path(path).name for path in args.qa))


def evaluate_over_http(org: Organization, args: argparse.Namespace) -> list[dict]:
    """The sets asked of a real server (one worker, so one warm-up loads its model) with an API
    key of the library's organization; the key is revoked and the threads asked deleted at the end."""
    from django.conf import settings

    from chat.models import Chat
    from orgs.services import api_key_create, api_key_revoke

    issued = api_key_create(org=org, label="eval_qa --http")
    process, base = start_server(1, log_path=Path(settings.DATA_DIR) / "eval-qa-server.log")
    try:
        with httpx.Client(base_url=base, headers={"X-API-KEY": issued.raw_key}, timeout=600) as client:
            warm_up = {"query": "warm-up: BME280 supply voltage", "user_id": "eval-qa", "mode": "FAST"}
            client.post("/chat/query/", json=warm_up).raise_for_status()
            return [evaluate(org, path, args.modes, args.verbose, client=client) for path in args.qa]
    finally:
        stop_server(process)
        api_key_revoke(api_key=issued.api_key)
        Chat.objects.filter(org=org, api_key=issued.api_key).delete()


if __name__ == "__main__":
    main()
