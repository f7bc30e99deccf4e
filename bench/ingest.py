"""Ingestion throughput: the real pipeline against raw `SentenceTransformer.encode`.

Ingests every PDF in ../shared/datasheets/ through `document_upload` + `document_ingest`
(the code the Celery worker runs) into an organization of its own, then, in the same run,
times the embedding model alone on exactly the texts the pipeline embedded, with the same
batch size. The ratio pipeline/raw says how much parsing, chunking and database work cost
on top of the embedding itself (target: >= 0.8).

    VOLTAI_DATA_DIR=var/bench .venv/bin/python bench/ingest.py [--rounds N]

Prints a table and writes bench/results/ingest.json.
"""

import argparse
import json
import os
import platform
import resource
import sys
import time

from _django import setup_django  # bench/ is first on sys.path when a script runs

ROOT = setup_django("bench")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from library.embeddings import embed_texts, get_model  # noqa: E402
from library.models import Chunk, Document  # noqa: E402
from library.services import (  # noqa: E402
    document_delete,
    document_ingest,
    document_reingest,
    document_upload,
    embedding_input,
)
from orgs.models import Organization  # noqa: E402
from orgs.services import org_create  # noqa: E402

DATASHEETS = ROOT.parent / "shared" / "datasheets"
RESULTS = ROOT / "bench" / "results" / "ingest.json"
BENCH_ORG = "bench-ingest"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def fresh_org() -> Organization:
    old = Organization.objects.filter(name=BENCH_ORG).first()
    if old is not None:
        for document in Document.objects.filter(org=old):
            document_delete(document=document)
        old.delete()
    return org_create(name=BENCH_ORG)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side per document; the fastest counts")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    org = fresh_org()
    paths = sorted(DATASHEETS.glob("*.pdf"))
    batch_size = settings.EMBEDDING_BATCH_SIZE
    # Load the model and warm it up outside both timings: both sides pay the same start-up.
    get_model()
    embed_texts(["warm-up text " * 20] * batch_size)
    rss_before = peak_rss_mb()
    load_at_start = os.getloadavg()[0]

    # Per document, the pipeline and the raw encode of its chunk texts run back to back, in
    # alternating order over --rounds rounds, and each side keeps its fastest time: these
    # machines are shared, and other work only ever adds time.
    rows = []
    all_texts: list[str] = []
    for path in paths:
        document = document_upload(
            org=org, filename=path.name, data=path.read_bytes(), enqueue=lambda _id: None
        ).document
        pipeline_times: list[float] = []
        raw_times: list[float] = []
        texts: list[str] = []
        for round_number in range(max(1, args.rounds)):  # round 0 runs the pipeline first
            for side in ("pipeline", "raw") if round_number % 2 == 0 else ("raw", "pipeline"):
                if side == "pipeline":
                    if round_number:
                        document_reingest(document=document, enqueue=lambda _id: None)
                    started = time.perf_counter()
                    document_ingest(document_id=document.pk)
                    pipeline_times.append(time.perf_counter() - started)
                    document.refresh_from_db()
                    if document.status != Document.Status.READY:
                        raise SystemExit(f"{path.name} ended {document.status}: {document.error}")
                    chunk_texts = Chunk.objects.filter(document=document).order_by("ordinal")
                    texts = [embedding_input(document, text) for text in chunk_texts.values_list("text", flat=True)]
                elif texts:
                    started = time.perf_counter()
                    embed_texts(texts, batch_size=batch_size)
                    raw_times.append(time.perf_counter() - started)
        all_texts.extend(texts)
        rows.append(
            {
                "file": path.name,
                "pages": document.pages_total,
                "chunks": len(texts),
                "seconds": min(pipeline_times),
                "raw": min(raw_times),
            }
        )
    pipeline_s = sum(row["seconds"] for row in rows)
    raw_s = sum(row["raw"] for row in rows)
    # For reference: the model given every text at once (sorted by length across documents).
    started = time.perf_counter()
    embed_texts(all_texts, batch_size=batch_size)
    raw_all_s = time.perf_counter() - started

    pages = sum(row["pages"] for row in rows)
    chunks = sum(row["chunks"] for row in rows)
    summary = {
        "documents": len(rows),
        "pages": pages,
        "chunks": chunks,
        "batch_size": batch_size,
        "pipeline_seconds": round(pipeline_s, 2),
        "pipeline_pages_per_s": round(pages / pipeline_s, 2),
        "pipeline_chunks_per_s": round(chunks / pipeline_s, 2),
        "raw_encode_seconds": round(raw_s, 2),
        "raw_encode_chunks_per_s": round(chunks / raw_s, 2),
        "ratio_pipeline_to_raw": round(raw_s / pipeline_s, 3),
        "raw_encode_all_at_once_seconds": round(raw_all_s, 2),
        "ratio_pipeline_to_raw_all_at_once": round(raw_all_s / pipeline_s, 3),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "target_ratio": 0.8,
        "rounds": args.rounds,
        "load_average_1m_at_start": round(load_at_start, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_after_model_load_mb": round(rss_before, 1),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "per_document": [{**row, "seconds": round(row["seconds"], 2), "raw": round(row["raw"], 2)} for row in rows],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")

    print(f"{'file':34} {'pages':>6} {'chunks':>7} {'pipeline s':>10} {'raw s':>8} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['file']:34} {row['pages']:>6} {row['chunks']:>7} {row['seconds']:>10.2f} "
            f"{row['raw']:>8.2f} {row['raw'] / row['seconds']:>6.2f}"
        )
    print()
    print(f"{'measure':34} {'value':>12}")
    for label, value in [
        ("pipeline pages/s", summary["pipeline_pages_per_s"]),
        ("pipeline chunks/s", summary["pipeline_chunks_per_s"]),
        ("raw encode chunks/s (same texts)", summary["raw_encode_chunks_per_s"]),
        ("ratio pipeline/raw (target >= 0.8)", summary["ratio_pipeline_to_raw"]),
        ("raw encode, all texts in one call", f"{chunks / raw_all_s:.2f} chunks/s"),
        ("ratio against that", summary["ratio_pipeline_to_raw_all_at_once"]),
        ("peak RSS MB", summary["peak_rss_mb"]),
    ]:
        print(f"{label:34} {value:>12}")
    print(f"\nsaved {RESULTS.relative_to(ROOT)}")
    org.delete()
    if summary["ratio_pipeline_to_raw"] < summary["target_ratio"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
