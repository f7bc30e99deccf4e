"""Ingestion throughput: the real pipeline on ONNX Runtime against raw torch `encode`.

Ingests every PDF in ../shared/datasheets/ through `document_upload` + `document_ingest`
(the code the Celery worker runs: parsing, chunking, embedding on the default onnx backend,
database writes) into an organization of its own, and right after each document times
sentence-transformers' `SentenceTransformer.encode` on torch alone on exactly the texts the
pipeline embedded, with the same batch size (and, for reference, the ONNX encoder alone on
them). Target: the whole pipeline at least 2x raw torch. The stored vectors are compared to
torch's for the same texts (cosine). Then question embedding latency on one thread (as
answers embed questions) for both backends, over the questions of dev_qa.jsonl and the
held-out qa_extra.jsonl, alternating backends question by question.

OCR is off unless --ocr on: six of these 446 pages have no usable text layer (drawings,
a font without a Unicode map) and OCR reads each in 10-25 s, a hundred text pages' worth,
which would measure OCR rather than the embedding path this compares; bench/ocr.py measures
OCR's pages/s. With --ocr on the same table shows what those pages add.

    VOLTAI_DATA_DIR=var/bench .venv/bin/python bench/ingest.py [--rounds N] [--ocr on]

Prints a table and writes bench/results/ingest.json.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _django import setup_django  # bench/ is first on sys.path when a script runs

ROOT = setup_django("bench")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402

from library.embeddings import embed_question, embed_texts, get_model, prepare  # noqa: E402
from library.ingest import document_ingest, embedding_input  # noqa: E402
from library.models import Chunk, Document  # noqa: E402
from library.services import document_delete, document_reingest, document_upload  # noqa: E402
from orgs.models import Organization  # noqa: E402
from orgs.services import org_create  # noqa: E402

DATASHEETS = ROOT.parent / "shared" / "datasheets"
QUESTION_FILES = [DATASHEETS / "dev_qa.jsonl", ROOT / "bench" / "qa_extra.jsonl"]
RESULTS = ROOT / "bench" / "results" / "ingest.json"
BENCH_ORG = "bench-ingest"
TARGET_RATIO = 2.0


def fresh_org() -> Organization:
    old = Organization.objects.filter(name=BENCH_ORG).first()
    if old is not None:
        for document in Document.objects.filter(org=old):
            document_delete(document=document)
        old.delete()
    return org_create(name=BENCH_ORG)


def raw_torch(texts: list[str], batch_size: int) -> np.ndarray:
    return get_model().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )


_MEMORY_CHILD = """
import json, sys
sys.path.insert(0, "bench")
from _django import setup_django
setup_django("bench")
import psutil
from library.embeddings import embed_texts
before = psutil.Process().memory_info().rss
embed_texts(["warm-up text " * 20] * 32)
after = psutil.Process().memory_info().rss
print(json.dumps({"model_mb": round((after - before) / 2**20, 1), "process_mb": round(after / 2**20, 1),
                  "imports_torch": "torch" in sys.modules}))
"""


def process_memory(backend: str) -> dict[str, object]:
    """What loading the model and embedding one batch adds to a fresh process (a web worker)."""
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD],
        cwd=ROOT,
        env={**os.environ, "EMBEDDING_BACKEND": backend},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share * 100))


def question_latency(questions: list[str]) -> dict[str, dict[str, float]]:
    """Milliseconds per question on one thread, each backend warmed up first."""
    timings: dict[str, list[float]] = {"onnx": [], "torch": []}
    for backend in timings:
        with override_settings(EMBEDDING_BACKEND=backend):
            for question in questions[:3]:
                embed_question(question)
    for index, question in enumerate(questions):
        for backend in ("onnx", "torch") if index % 2 == 0 else ("torch", "onnx"):
            with override_settings(EMBEDDING_BACKEND=backend):
                started = time.perf_counter()
                embed_question(question)
                timings[backend].append((time.perf_counter() - started) * 1000)
    return {
        backend: {"p50_ms": round(percentile(ms, 0.5), 1), "p95_ms": round(percentile(ms, 0.95), 1)}
        for backend, ms in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side per document; the fastest counts")
    parser.add_argument("--ocr", choices=["off", "on"], default="off", help="OCR of pages without a text layer")
    args = parser.parse_args()
    with override_settings(OCR=args.ocr == "on"):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    if settings.EMBEDDING_BACKEND != "onnx":
        raise SystemExit("bench/ingest.py measures the onnx backend against torch: unset EMBEDDING_BACKEND")

    call_command("migrate", verbosity=0)
    org = fresh_org()
    batch_size = settings.EMBEDDING_BATCH_SIZE
    # Load both models and warm them up outside the timings: each side pays its own start-up.
    prepare()  # the ONNX export, when this data folder has none yet
    memory = {backend: process_memory(backend) for backend in ("onnx", "torch")}
    embed_texts(["warm-up text " * 20] * batch_size)
    raw_torch(["warm-up text " * 20] * batch_size, batch_size)
    loads = {"load_average_1m_at_start": round(os.getloadavg()[0], 2)}
    cosines: list[float] = []
    rows = [measure_document(org, path, args.rounds, cosines) for path in sorted(DATASHEETS.glob("*.pdf"))]
    loads["load_average_1m_after_ingest"] = round(os.getloadavg()[0], 2)
    questions = [
        json.loads(line)["question"] for file in QUESTION_FILES for line in file.read_text().splitlines() if line
    ]
    latency = question_latency(questions)
    loads["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    summary = summarise(rows, cosines, questions, latency, args.rounds) | loads | {"ocr": args.ocr}
    summary |= {
        "memory_of_a_process_embedding": memory,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "per_document": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print_tables(rows, summary, latency, memory, len(questions))
    org.delete()
    if summary["ratio_pipeline_to_raw_torch"] < TARGET_RATIO:
        sys.exit(1)


def measure_document(org: Organization, path: Path, rounds: int, cosines: list[float]) -> dict:
    """One datasheet through the pipeline and through the raw encoders, fastest of `rounds` each.

    The pipeline and the raw encodes of its chunk texts run back to back, in alternating order
    over the rounds, and each side keeps its fastest time: these machines are shared, and other
    work only ever adds time. The stored vectors' lowest cosine to torch's goes to `cosines`.
    """
    batch_size = settings.EMBEDDING_BATCH_SIZE
    document = document_upload(org=org, filename=path.name, data=path.read_bytes(), enqueue=lambda _id: None).document
    times: dict[str, list[float]] = {"pipeline": [], "torch": [], "onnx": []}
    texts: list[str] = []
    stored = np.zeros((0, settings.EMBEDDING_DIMENSIONS))
    for round_number in range(max(1, rounds)):  # round 0 runs the pipeline first
        sides = ("pipeline", "torch", "onnx") if round_number % 2 == 0 else ("torch", "onnx", "pipeline")
        for side in sides:
            if side == "pipeline":
                times["pipeline"].append(ingest_timed(document, again=bool(round_number)))
                chunks = Chunk.objects.filter(document=document).order_by("ordinal")
                texts = [embedding_input(document, text) for text in chunks.values_list("text", flat=True)]
                stored = np.array(list(chunks.values_list("embedding", flat=True)), dtype=np.float32)
            elif texts:
                started = time.perf_counter()
                vectors = raw_torch(texts, batch_size) if side == "torch" else embed_texts(texts)
                times[side].append(time.perf_counter() - started)
                if side == "torch" and len(stored) == len(texts):
                    cosines.append(float(np.min(np.sum(stored * vectors, axis=1))))
    return {
        "file": path.name,
        "pages": document.pages_total,
        "chunks": len(texts),
        "seconds": round(min(times["pipeline"]), 2),
        "raw_torch": round(min(times["torch"]), 2),
        "raw_onnx": round(min(times["onnx"]), 2),
    }


def ingest_timed(document: Document, *, again: bool) -> float:
    """Seconds the real pipeline takes on the document (queued again first, after the first run)."""
    if again:
        document_reingest(document=document, enqueue=lambda _id: None)
    started = time.perf_counter()
    document_ingest(document_id=document.pk)
    elapsed = time.perf_counter() - started
    document.refresh_from_db()
    if document.status != Document.Status.READY:
        raise SystemExit(f"{document.source_name} ended {document.status}: {document.error}")
    return elapsed


def summarise(rows: list[dict], cosines: list[float], questions: list[str], latency: dict, rounds: int) -> dict:
    pipeline_s = sum(row["seconds"] for row in rows)
    torch_s = sum(row["raw_torch"] for row in rows)
    onnx_s = sum(row["raw_onnx"] for row in rows)
    pages = sum(row["pages"] for row in rows)
    chunks = sum(row["chunks"] for row in rows)
    return {
        "documents": len(rows),
        "pages": pages,
        "chunks": chunks,
        "batch_size": settings.EMBEDDING_BATCH_SIZE,
        "embedding_threads": settings.EMBEDDING_THREADS or "default",
        "pipeline_seconds": round(pipeline_s, 2),
        "pipeline_pages_per_s": round(pages / pipeline_s, 2),
        "pipeline_chunks_per_s": round(chunks / pipeline_s, 2),
        "raw_torch_seconds": round(torch_s, 2),
        "raw_torch_chunks_per_s": round(chunks / torch_s, 2),
        "raw_onnx_seconds": round(onnx_s, 2),
        "raw_onnx_chunks_per_s": round(chunks / onnx_s, 2),
        "ratio_pipeline_to_raw_torch": round(torch_s / pipeline_s, 3),
        "ratio_raw_onnx_to_raw_torch": round(torch_s / onnx_s, 3),
        "target_ratio": TARGET_RATIO,
        "cosine_min_stored_to_torch": round(min(cosines), 6),
        "questions": len(questions),
        "question_latency_one_thread": latency,
        "rounds": rounds,
    }


def print_tables(rows: list[dict], summary: dict, latency: dict, memory: dict, questions: int) -> None:
    print(f"{'file':34} {'pages':>6} {'chunks':>7} {'pipeline s':>10} {'torch s':>8} {'onnx s':>8} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['file']:34} {row['pages']:>6} {row['chunks']:>7} {row['seconds']:>10.2f} "
            f"{row['raw_torch']:>8.2f} {row['raw_onnx']:>8.2f} {row['raw_torch'] / row['seconds']:>6.2f}"
        )
    print()
    print(f"{'measure':44} {'value':>14}")
    for label, value in [
        ("pipeline (onnx) pages/s", summary["pipeline_pages_per_s"]),
        ("pipeline (onnx) chunks/s", summary["pipeline_chunks_per_s"]),
        ("raw torch encode chunks/s (same texts)", summary["raw_torch_chunks_per_s"]),
        ("raw onnx encode chunks/s (same texts)", summary["raw_onnx_chunks_per_s"]),
        (f"ratio pipeline / raw torch (target >= {TARGET_RATIO})", summary["ratio_pipeline_to_raw_torch"]),
        ("ratio raw onnx / raw torch", summary["ratio_raw_onnx_to_raw_torch"]),
        ("cosine, stored vs torch, lowest", summary["cosine_min_stored_to_torch"]),
        (
            f"question p50 / p95 ms, onnx ({questions} q)",
            f"{latency['onnx']['p50_ms']} / {latency['onnx']['p95_ms']}",
        ),
        ("question p50 / p95 ms, torch", f"{latency['torch']['p50_ms']} / {latency['torch']['p95_ms']}"),
        ("model + one batch in a fresh process, onnx MB", memory["onnx"]["model_mb"]),
        ("model + one batch in a fresh process, torch MB", memory["torch"]["model_mb"]),
    ]:
        print(f"{label:44} {value:>14}")
    print(f"\nsaved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
