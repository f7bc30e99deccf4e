"""Answer quality on the dev set: every mode of the agent against two retrieval baselines.

Runs ../shared/datasheets/dev_qa.jsonl through `agent.services.answer` (the service, not
HTTP) in FAST, AGENTIC and AUTO mode with the configured backend (default: extractive),
and in the same run scores two retrieval baselines over the very same chunks: BM25 only
(`rank_bm25`) and dense only (pgvector cosine).

    VOLTAI_DATA_DIR=var/bench-agent .venv/bin/python bench/eval_qa.py
    VOLTAI_DATA_DIR=var/bench-agent .venv/bin/python bench/eval_qa.py --qa bench/qa_extra.jsonl

bench/qa_extra.jsonl is our held-out set (36 questions in the dev set's format, written from
the PDFs alone without looking at the engine): tuning on the dev set is checked against it.

The datasheets are ingested once by the real pipeline into an org named after a
fingerprint of the pipeline code, so a change to chunking or normalisation re-ingests.
Prints a table and writes bench/results/eval_qa.json.

Scoring. hit@k: the right file and page is among the first k *cited* sources of the answer
(retrieval baselines: among the first k pages of their ranking). A lookup's `also_pages`
count as right. For comparison and multi-hop items, which need several pages, a hit is
any of the item's `sources` pages among the first k. Keyword accuracy: the share of answers
containing every `answer_keywords` string, matched as SOURCES.md says (NFKC, lower case,
dashes unified, thousands separators dropped, whitespace optional except inside numbers,
digit boundaries, trailing zeros after a decimal point allowed).
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

ROOT = setup_django("bench-agent")

from django.core.management import call_command  # noqa: E402

from library.models import Document  # noqa: E402
from library.services import document_delete, document_ingest, document_upload  # noqa: E402
from orgs.models import Organization  # noqa: E402
from orgs.services import org_create  # noqa: E402
from topics.models import Topic  # noqa: E402

DATASHEETS = ROOT.parent / "shared" / "datasheets"
DEV_QA = DATASHEETS / "dev_qa.jsonl"
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

    from library import services

    digest = hashlib.sha256()
    for name in ["pdf_text.py", "chunking.py", "embeddings.py", "model_spec.py", "onnx_encoder.py"]:
        digest.update((ROOT / "library" / name).read_bytes())
    # Only what decides the chunks of services.py; its other edits leave the chunks alone.
    for name in ("_PagePipeline", "_chunk_document", "embedding_input"):
        if hasattr(services, name):
            digest.update(inspect.getsource(getattr(services, name)).encode())
    for path in sorted(DATASHEETS.glob("*.pdf")):
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]


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
    for path in sorted(DATASHEETS.glob("*.pdf")):
        print(f"ingesting {path.name}", file=sys.stderr)
        result = document_upload(
            org=org,
            filename=path.name,
            data=path.read_bytes(),
            topics=[topic_of[path.name]],
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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run_mode(org: Organization, items: list[dict], mode: str) -> dict:
    from agent.services import answer

    rows = []
    for item in items:
        started = time.perf_counter()
        done = answer(org=org, query=item["question"], mode=mode)
        elapsed = (time.perf_counter() - started) * 1000
        cited = [(s.source_name, s.page) for s in done.sources]
        rows.append(
            {
                "id": item["id"],
                "kind": item["kind"],
                "mode": done.mode,
                "cited": cited,
                "hit1": hit_at(cited, item, 1),
                "hit5": hit_at(cited, item, 5),
                "keywords": keywords_found(done.answer, item["answer_keywords"]),
                "ms": elapsed,
                "answer": done.answer,
            }
        )
    return summarise(rows) | {"items": rows}


def summarise(rows: list[dict]) -> dict:
    hard = [r for r in rows if r["kind"] != "lookup"]
    return {
        "hit@1": round(sum(r["hit1"] for r in rows) / len(rows), 3),
        "hit@5": round(sum(r["hit5"] for r in rows) / len(rows), 3),
        "keyword_accuracy": round(sum(r["keywords"] for r in rows) / len(rows), 3),
        "keyword_accuracy_comparison_multihop": round(sum(r["keywords"] for r in hard) / max(1, len(hard)), 3),
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
    from library.selectors import page_search

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
        hybrid = [(p.source_name, p.page) for p in page_search(org=org, query_text=question, query_embedding=vector)]
        for name, pages in (("bm25", bm25_pages), ("dense", dense_pages), ("hybrid_pages", hybrid)):
            rows[name].append({"id": item["id"], "hit1": hit_at(pages, item, 1), "hit5": hit_at(pages, item, 5)})
    for name, scored in rows.items():
        results[name] = {
            "hit@1": round(sum(r["hit1"] for r in scored) / len(scored), 3),
            "hit@5": round(sum(r["hit5"] for r in scored) / len(scored), 3),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest-only", action="store_true", help="only make sure the library is ingested")
    parser.add_argument("--modes", nargs="+", default=["FAST", "AGENTIC", "AUTO"], choices=["FAST", "AGENTIC", "AUTO"])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every miss")
    parser.add_argument(
        "--qa",
        type=Path,
        default=DEV_QA,
        help="question file (default: the shared dev set; bench/qa_extra.jsonl is our held-out set)",
    )
    args = parser.parse_args()
    org = ensure_library()
    if args.ingest_only:
        print(org.name)
        return
    from django.conf import settings

    from agent.services import answer

    items = [json.loads(line) for line in args.qa.read_text().splitlines() if line.strip()]
    results = RESULTS if args.qa.resolve() == DEV_QA.resolve() else RESULTS.with_name(f"eval_qa-{args.qa.stem}.json")
    answer(org=org, query="warm-up: BME280 supply voltage", mode="FAST")  # model load outside timings
    modes = {mode: run_mode(org, items, mode) for mode in args.modes}
    base = baselines(org, items)
    summary = {
        "backend": settings.LLM_BACKEND,
        "questions": str(args.qa.name),
        "items": len(items),
        "modes": {mode: {k: v for k, v in result.items() if k != "items"} for mode, result in modes.items()},
        "baselines": base,
        "targets": {
            "hit@1": ">= 0.75 and above both baselines",
            "hit@5": ">= 0.95 and above both baselines",
            "FAST keyword_accuracy": ">= 0.70",
            "AGENTIC keyword accuracy on comparison+multi-hop": "> FAST's",
            "avg_sources": "<= 3",
            "FAST median_ms": "<= 150",
        },
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "per_item": {mode: result["items"] for mode, result in modes.items()},
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if args.verbose:
        for mode, result in modes.items():
            for row in result["items"]:
                if not (row["hit1"] and row["keywords"]):
                    print(
                        mode,
                        row["id"],
                        row["kind"],
                        row["mode"],
                        row["cited"],
                        "hit1" if row["hit1"] else "MISS1",
                        "kw" if row["keywords"] else "NOKW",
                        "|",
                        row["answer"].replace("\n", " / ")[:300],
                    )
    columns = ["hit@1", "hit@5", "kw acc", "kw cmp+mh", "sources", "p50 ms", "p95 ms"]
    print(f"{'run':22} " + " ".join(f"{c:>9}" for c in columns))
    for mode, result in summary["modes"].items():
        print(
            f"{mode + ' (' + settings.LLM_BACKEND + ')':22} {result['hit@1']:>9.3f} {result['hit@5']:>9.3f} "
            f"{result['keyword_accuracy']:>9.3f} {result['keyword_accuracy_comparison_multihop']:>9.3f} "
            f"{result['avg_sources']:>9.2f} {result['median_ms']:>9.1f} {result['p95_ms']:>9.1f}"
        )
    for name, result in base.items():
        label = {
            "bm25": "BM25 only (baseline)",
            "dense": "dense only (baseline)",
            "hybrid_pages": "hybrid page ranking",
        }
        print(
            f"{label[name]:22} {result['hit@1']:>9.3f} {result['hit@5']:>9.3f} "
            + " ".join(f"{'-':>9}" for _ in range(5))
        )
    print(f"\nsaved {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
