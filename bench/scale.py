"""Retrieval at scale: `page_search` on synthetic libraries of 10k, 100k and 1M chunks.

    nice -n 10 .venv/bin/python bench/scale.py                      # 10k, 100k and 1M
    nice -n 10 .venv/bin/python bench/scale.py --sizes 10000,100000
    nice -n 10 .venv/bin/python bench/scale.py --sizes 1000000 --config ef=400 --config iter=strict_order

The library: 100 organizations of uneven size (log-normal weights), 10,000 documents spread
over them, 2-6 topics per org (each document in one topic, one in ten in two), and N chunks
over the documents (uneven too, at least one each; three chunks to a page). Chunk text is
real datasheet text: the sentences pypdf extracts from ../shared/datasheets*/*.pdf, each
document drawing from one datasheet, a window of its sentences shuffled into a chunk of
700-1200 characters (about the 220 word pieces the real chunker aims at).

Vectors. At 10k, each chunk is embedded by the real model (all-MiniLM-L6-v2 through
`library.embeddings`); on this shared 2-core machine that is 4-8 chunks/s, so 100k would take
hours. The stand-in, used at 100k and 1M (and at 10k beside the real run, to compare): every
distinct sentence (~18k) is embedded once by the real model, and a chunk's vector is the
normalised mean of its sentences' vectors plus isotropic noise of norm `sigma`, normalised
again. `sigma` is chosen from a small grid on the real vectors of the 10k library's first
1,000 chunks (so the 1M run need not wait for all 10k): the value whose distributions of
1st- and 10th-nearest-neighbour cosine similarity come closest to the real ones. The check,
on all 10k chunks once their real vectors exist: the same distributions (1,000 sampled
chunks against all 10k), the similarity of each question's 10 best chunks, and how many of
a chunk's 10 real nearest neighbours are among its 10 stand-in ones, for every sigma of the
grid. Printed and saved under "standin" in the JSON: read it before trusting the 100k/1M
rows. A limit no vector trick removes: the text comes from 22 datasheets (~18k sentences),
so at 1M each sentence recurs ~800 times and the library is more repetitive than a real one.
Embeddings are cached in var/bench-scale-cache/.

Loading goes around the ORM for speed but into the project's own tables: documents, topics
and organizations through the models, chunks by binary COPY into library_chunk (the
generated tsvector column fills itself), with the HNSW and GIN indexes dropped first and
then rebuilt from the model's own index definitions (`Chunk._meta.indexes`), timed; index
sizes by pg_relation_size. The build session sets maintenance_work_mem and
max_parallel_maintenance_workers (reported). The database is the bench's own embedded
server (VOLTAI_DATA_DIR, default var/bench-scale; give the 1M run its own, e.g.
var/bench-scale-1m, to keep it while smaller sizes run); a loaded library is kept, with its
build numbers, and reused by the next run of the same size and vectors.

Queries: 100 questions (dev_qa.jsonl 31, bench/qa_extra.jsonl 36, and 33 generated from
templates over the datasheets' part numbers), each against a random org, once with the org
filter only, once with one of the org's topics, once with one of its documents. Timed is
`library.search.page_search` itself, unchanged (query terms, hybrid SQL, page ranking;
the question's embedding is made beforehand). Its dense SQL is caught as it runs and run
again twice: as is (its latency, "dense ms") and with `enable_indexscan = off`, which
makes it exact within the same filter; recall@10 compares the two (a tie at the 10th
distance counts as found). A scope read row by row measures its dense candidates in the
same pass as its terms (stage "scope_terms"); for it, the exact query that row scan would
send on its own is what is run again. `--config` runs more settings, each a row: `ef=N` (the
project's hnsw.ef_search, patched in library.search.ranking.KNOBS), `iter=strict_order|relaxed_order|off`
(rewritten in its SET LOCAL), `row_scan=N` (the project's row_scan_chunks: `row_scan=0` is the
search before small scopes were read row by row, always through the HNSW and GIN indexes),
`max_scan_tuples=N` and `scan_mem=N` (session settings pgvector 0.8 offers), `partial` (one
HNSW index per org beside the global one, built and timed for the row, dropped after), or
several joined by commas. `--storage` says where the rows keep their tsvector and embedding:
`main` (the project's since library migration 0006: in the row), `extended` (before it: both in
TOAST once a row passes 2 kB) or `tsvector-main` (an earlier experiment: the tsvector alone in
the row); each is a separate library in the results. Prints a table, writes
bench/results/scale.json (libraries not run this time are kept from the previous file) and
bench/results/scale.svg.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

# Index builds run for many minutes; the project's 30 s statement timeout is for requests.
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "0")

from _django import setup_django  # bench/ is first on sys.path when a script runs

ROOT = setup_django("bench-scale")

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from library.embeddings import embed_texts  # noqa: E402
from library.models import Chunk, Document  # noqa: E402
from library.search import page_search, ranking  # noqa: E402
from library.search import sql as search_sql  # noqa: E402
from orgs.models import Organization  # noqa: E402
from topics.models import Topic  # noqa: E402

SHARED = ROOT.parent / "shared"
PDF_FOLDERS = [SHARED / "datasheets", SHARED / "datasheets-extra"]
QUESTION_FILES = [SHARED / "datasheets" / "dev_qa.jsonl", ROOT / "bench" / "qa_extra.jsonl"]
RESULTS = ROOT / "bench" / "results" / "scale.json"
PLOT = ROOT / "bench" / "results" / "scale.svg"
# Embeddings are kept apart from the database, so runs in other data folders share them.
CACHE = ROOT / "var" / "bench-scale-cache"
STATE = Path(settings.DATA_DIR) / "loaded.json"

GENERATOR = "v1"  # bump when the library generator changes: a loaded library is then rebuilt
SEED = 20261129
ORGS = 100
DOCUMENTS = 10_000
CHUNKS_PER_PAGE = 3
SIGMAS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
# Real chunk vectors the stand-in's sigma is chosen on (the first of the 10k library's chunks):
# few enough to embed in minutes, so the 1M run need not wait for the 10k one.
CALIBRATION_CHUNKS = 1000
GENERATED_QUESTIONS = 33
# The index build session; reported with the results.
BUILD_SETTINGS = {"maintenance_work_mem": "4GB", "max_parallel_maintenance_workers": "1"}
TARGETS = {"page_search p50 ms": 50, "page_search p95 ms": 150, "recall@10": 0.95}
FILTERS = ["org", "topic", "document"]
# --storage: the STORAGE of library_chunk's search_vector and embedding for each choice.
STORAGES = {"main": ("MAIN", "MAIN"), "extended": ("EXTENDED", "EXTERNAL"), "tsvector-main": ("MAIN", "EXTERNAL")}

# --- text ----------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(])")


def sentence_pool() -> tuple[list[str], list[list[int]]]:
    """Every distinct sentence of the datasheets, and per datasheet its sentences' ids in order."""
    path = CACHE / "sentences.json"
    if path.exists():
        data = json.loads(path.read_text())
        return data["sentences"], data["by_source"]
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    ids: dict[str, int] = {}
    by_source: list[list[int]] = []
    for pdf in sorted(p for folder in PDF_FOLDERS for p in folder.glob("*.pdf")):
        order: list[int] = []
        for page in PdfReader(pdf).pages:
            try:
                text = page.extract_text() or ""
            except Exception:  # a page pypdf cannot read adds no sentences
                continue
            for line in text.split("\n"):
                for sentence in _SENTENCE_END.split(" ".join(line.split())):
                    if len(sentence) >= 25 and sum(ch.isalpha() for ch in sentence) >= 12:
                        order.append(ids.setdefault(sentence, len(ids)))
        by_source.append(list(dict.fromkeys(order)))
    sentences = list(ids)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"sentences": sentences, "by_source": by_source}))
    return sentences, by_source


def source_names() -> list[str]:
    return [p.stem for p in sorted(p for folder in PDF_FOLDERS for p in folder.glob("*.pdf"))]


def cache_path(name: str, texts: list[str]) -> Path:
    return CACHE / f"{name}-{hashlib.sha256(chr(0).join(texts).encode()).hexdigest()[:16]}.npy"


def cached_embeddings(name: str, texts: list[str]) -> np.ndarray:
    """The real model's vectors for these texts, computed once (keyed by the texts)."""
    path = cache_path(name, texts)
    if path.exists():
        return np.load(path)
    print(f"embedding {len(texts)} {name} with the real model (cached afterwards)", file=sys.stderr)
    started = time.perf_counter()
    vectors = np.concatenate(
        [embed_texts(texts[i : i + 512]) for i in range(0, len(texts), 512)] or [np.zeros((0, 384))]
    ).astype(np.float32)
    print(f"  {len(texts) / (time.perf_counter() - started):.1f} texts/s", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


# --- the library's layout ------------------------------------------------------------------


@dataclass
class Layout:
    """Who owns what: org per document, topics per org and document, datasheet per document."""

    doc_org: np.ndarray  # document index -> org index
    doc_source: np.ndarray  # document index -> datasheet index
    org_topics: list[int]  # org index -> number of topics
    doc_topics: list[list[int]]  # document index -> topic numbers within its org


def make_layout(sources: int) -> Layout:
    rng = np.random.default_rng(SEED)
    weights = rng.lognormal(0.0, 0.7, ORGS)
    doc_org = rng.choice(ORGS, size=DOCUMENTS, p=weights / weights.sum())
    doc_org[:ORGS] = np.arange(ORGS)  # every org holds at least one document
    doc_source = rng.integers(0, sources, DOCUMENTS)
    org_topics = [int(n) for n in rng.integers(2, 7, ORGS)]
    doc_topics = []
    for doc in range(DOCUMENTS):
        count = org_topics[doc_org[doc]]
        first = int(rng.integers(count))
        second = int(rng.integers(count))
        doc_topics.append([first] if rng.random() >= 0.1 or second == first else [first, second])
    return Layout(doc_org=doc_org, doc_source=doc_source, org_topics=org_topics, doc_topics=doc_topics)


def chunks_per_document(size: int) -> np.ndarray:
    rng = np.random.default_rng([SEED, size])
    weights = rng.lognormal(0.0, 0.8, DOCUMENTS)
    return 1 + rng.multinomial(size - DOCUMENTS, weights / weights.sum())


def document_chunks(doc: int, count: int, by_source: list[list[int]], sentences: list[str], layout: Layout):
    """The document's chunks as (ordinal, text, sentence ids), the same on every run."""
    rng = np.random.default_rng([SEED, 1, doc])
    pool = by_source[int(layout.doc_source[doc])]
    for ordinal in range(count):
        start = int(rng.integers(len(pool)))
        window = [pool[(start + i) % len(pool)] for i in rng.permutation(30)]
        budget = int(rng.integers(700, 1200))
        picked: list[int] = []
        length = 0
        for sentence_id in window:
            if length >= budget:
                break
            picked.append(sentence_id)
            length += len(sentences[sentence_id]) + 1
        yield ordinal, "\n".join(sentences[i] for i in picked), picked


def standin_vectors(sentence_ids: list[list[int]], pool_vectors: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Normalised mean of the sentences' real vectors, plus noise of norm `sigma`, normalised."""
    flat = np.fromiter((i for ids in sentence_ids for i in ids), dtype=np.int64)
    starts = np.cumsum([0] + [len(ids) for ids in sentence_ids[:-1]])
    means = np.add.reduceat(pool_vectors[flat], starts, axis=0)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    noise = np.random.default_rng(seed).standard_normal(means.shape).astype(np.float32)
    noise *= sigma / np.linalg.norm(noise, axis=1, keepdims=True)
    vectors = means + noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


# --- questions -----------------------------------------------------------------------------

_TEMPLATES = [
    "What is the supply voltage range of the {part}?",
    "What is the operating temperature range of the {part}?",
    "What is the maximum current the {part} can deliver?",
    "Which package options does the {part} come in?",
    "What are the absolute maximum ratings of the {part}?",
    "How much current does the {part} draw in shutdown or sleep mode?",
    "What is the pin configuration of the {part}?",
    "Which serial interface does the {part} use and at what clock speed?",
    "How do I reset the {part} after power-up?",
    "What is the typical power dissipation of the {part}?",
    "What does the {part} application circuit look like?",
]


def questions() -> list[str]:
    found = [
        json.loads(line)["question"]
        for path in QUESTION_FILES
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    parts = [name.split("-", 1)[-1].upper() for name in source_names()]
    rng = np.random.default_rng([SEED, 2])
    generated = [
        _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(part=parts[int(rng.integers(len(parts)))])
        for _ in range(GENERATED_QUESTIONS)
    ]
    return found + generated


# --- the stand-in check ---------------------------------------------------------------------


def _neighbours(vectors: np.ndarray, sample: np.ndarray, k: int = 10) -> np.ndarray:
    """For each sampled row, the ids of its k nearest other rows, nearest first, and their cosines."""
    sims = vectors[sample] @ vectors.T
    sims[np.arange(len(sample)), sample] = -2.0
    ids = np.argsort(-sims, axis=1)[:, :k]
    return ids, np.take_along_axis(sims, ids, axis=1)


def _quantiles(values: np.ndarray) -> list[float]:
    return [round(float(q), 3) for q in np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])]


def standin_check(
    real: np.ndarray, sentence_ids: list[list[int]], pool_vectors: np.ndarray, query_vectors: np.ndarray
) -> dict:
    """Real vs stand-in neighbour structure on the same chunks; picks sigma."""
    sample = np.random.default_rng([SEED, 3]).choice(len(real), size=min(1000, len(real)), replace=False)
    real_ids, real_sims = _neighbours(real, sample)
    real_queries = np.sort(query_vectors @ real.T, axis=1)[:, -10:]
    report: dict = {
        "chunks": len(real),
        "sampled": len(sample),
        "quantiles": "p5, p25, p50, p75, p95",
        "real": {
            "nn1_cos": _quantiles(real_sims[:, 0]),
            "nn10_cos": _quantiles(real_sims[:, 9]),
            "question_top10_cos": _quantiles(real_queries),
        },
        "standin": {},
    }
    best = None
    for sigma in SIGMAS:
        standin = standin_vectors(sentence_ids, pool_vectors, sigma, seed=SEED)
        ids, sims = _neighbours(standin, sample)
        queries = np.sort(query_vectors @ standin.T, axis=1)[:, -10:]
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(real_ids, ids, strict=True)])
        row = {
            "nn1_cos": _quantiles(sims[:, 0]),
            "nn10_cos": _quantiles(sims[:, 9]),
            "question_top10_cos": _quantiles(queries),
            "cos_to_real_median": round(float(np.median(np.sum(standin * real, axis=1))), 3),
            "real_10nn_kept": round(float(overlap), 3),
        }
        gap = sum(
            abs(a - b) for key in ("nn1_cos", "nn10_cos") for a, b in zip(row[key], report["real"][key], strict=True)
        )
        row["quantile_gap"] = round(gap, 3)
        report["standin"][str(sigma)] = row
        if best is None or gap < best[0]:
            best = (gap, sigma)
    assert best is not None
    report["sigma"] = best[1]
    return report


# --- loading ------------------------------------------------------------------------------


def ensure_owners(layout: Layout, sources: list[str]) -> tuple[list[int], list[int], dict[tuple[int, int], int]]:
    """Orgs, topics and documents (the same at every size): org ids, document ids, topic ids."""
    call_command("migrate", verbosity=0)
    names = [f"scale-{i:03d}" for i in range(ORGS)]
    if Document.objects.filter(org__name__in=names).count() != DOCUMENTS:
        Organization.objects.filter(name__startswith="scale-").delete()
        orgs = Organization.objects.bulk_create([Organization(name=name) for name in names])
        topics = Topic.objects.bulk_create(
            [Topic(org=orgs[o], name=f"topic-{t}") for o in range(ORGS) for t in range(layout.org_topics[o])]
        )
        topic_of = {(t.org_id, int(t.name.split("-")[1])): t for t in topics}
        documents = Document.objects.bulk_create(
            [
                Document(
                    org=orgs[int(layout.doc_org[d])],
                    file=f"scale/{d}.pdf",
                    source_name=f"{sources[int(layout.doc_source[d])]}-{d:05d}.pdf",
                    sha256=hashlib.sha256(f"scale-{d}".encode()).hexdigest(),
                    status=Document.Status.READY,
                )
                for d in range(DOCUMENTS)
            ],
            batch_size=2000,
        )
        Through = Document.topics.through
        Through.objects.bulk_create(
            [
                Through(document_id=documents[d].pk, topic_id=topic_of[(documents[d].org_id, t)].pk)
                for d in range(DOCUMENTS)
                for t in layout.doc_topics[d]
            ],
            batch_size=5000,
        )
    org_ids = list(Organization.objects.filter(name__in=names).order_by("name").values_list("id", flat=True))
    doc_ids = [0] * DOCUMENTS
    for pk, file in Document.objects.filter(org_id__in=org_ids).values_list("id", "file"):
        doc_ids[int(file.split("/")[1].split(".")[0])] = pk
    topic_ids = {
        (org_ids.index(org_id), int(name.split("-")[1])): pk
        for pk, org_id, name in Topic.objects.filter(org_id__in=org_ids).values_list("id", "org_id", "name")
    }
    return org_ids, doc_ids, topic_ids


_TIMED_INDEXES = {"chunk_embedding_hnsw": "hnsw", "chunk_search_vector_gin": "gin"}


def _index_sql() -> dict[str, str]:
    """CREATE INDEX statements of the model's HNSW and GIN indexes, as its migrations make them."""
    with connection.schema_editor() as editor:
        return {
            index.name: str(index.create_sql(Chunk, editor))
            for index in Chunk._meta.indexes
            if index.name in _TIMED_INDEXES
        }


def load_library(
    *,
    size: int,
    vectors: str,
    storage: str,
    fingerprint: str,
    layout: Layout,
    doc_ids: list[int],
    org_ids: list[int],
) -> dict:
    """Fill library_chunk with this library by COPY and rebuild its HNSW and GIN indexes, timed."""
    from pgvector.psycopg import register_vector

    creates = _index_sql()
    STATE.unlink(missing_ok=True)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE library_chunk")
        # Where Postgres keeps the tsvector and embedding (see --storage); rows loaded next follow it.
        tsvector, embedding = STORAGES[storage]
        cursor.execute(
            f"ALTER TABLE library_chunk ALTER COLUMN search_vector SET STORAGE {tsvector},"
            f" ALTER COLUMN embedding SET STORAGE {embedding}"
        )
        for name in _TIMED_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
    connection.ensure_connection()
    raw = connection.connection
    register_vector(raw)
    sigma = None
    if vectors == "stand-in":
        sigma = standin_sigma()
    copy_seconds = _copy_chunks(
        raw, size=size, vectors=vectors, sigma=sigma, layout=layout, doc_ids=doc_ids, org_ids=org_ids
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE library_chunk")
    build: dict = {"copy_s": round(copy_seconds, 1), "settings": dict(BUILD_SETTINGS)}
    build |= _build_indexes(size, creates)
    build["measured_at"] = time.strftime("%Y-%m-%d %H:%M")
    STATE.write_text(json.dumps({"fingerprint": fingerprint, "build": build}))
    return build


def _copy_chunks(
    raw: Any,
    *,
    size: int,
    vectors: str,
    sigma: float | None,
    layout: Layout,
    doc_ids: list[int],
    org_ids: list[int],
) -> float:
    """COPY the library's chunks into library_chunk, with real or stand-in vectors; the seconds
    the COPY took."""
    sentences, by_source = sentence_pool()
    pool_vectors = cached_embeddings("sentences", sentences)
    counts = chunks_per_document(size)
    started = time.perf_counter()
    copy_sql = (
        "COPY library_chunk (document_id, org_id, page, ordinal, text, token_count, embedding)"
        " FROM STDIN WITH (FORMAT BINARY)"
    )
    with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
        copy.set_types(["bigint", "bigint", "integer", "integer", "text", "integer", "vector"])
        batch: list[tuple[int, int, int, str, list[int]]] = []

        def flush() -> None:
            if vectors == "real":
                found = cached_embeddings(f"chunks{size}", [row[3] for row in batch])
            else:
                found = standin_vectors([row[4] for row in batch], pool_vectors, sigma, seed=batch[0][0] * 7919 + 1)
            for (doc, ordinal, page, text, _), vector in zip(batch, found, strict=True):
                org = org_ids[int(layout.doc_org[doc])]
                copy.write_row((doc_ids[doc], org, page, ordinal, text, len(text) // 4, vector))
            batch.clear()

        for doc in range(DOCUMENTS):
            for ordinal, text, picked in document_chunks(doc, int(counts[doc]), by_source, sentences, layout):
                batch.append((doc, ordinal, ordinal // CHUNKS_PER_PAGE + 1, text, picked))
            # The real run embeds all its texts at once, so its cache has one key.
            if len(batch) >= (size if vectors == "real" else 4_000):
                flush()
        if batch:
            flush()
    return time.perf_counter() - started


def _build_indexes(size: int, creates: dict[str, str]) -> dict:
    """Build the HNSW and GIN indexes over the loaded chunks, timed, with their sizes."""
    build: dict = {}
    with connection.cursor() as cursor:
        for name, setting in BUILD_SETTINGS.items():
            cursor.execute(f"SET {name} = '{setting}'")
        for name, kind in _TIMED_INDEXES.items():
            print(f"building {name} over {size} chunks", file=sys.stderr)
            started = time.perf_counter()
            cursor.execute(creates[name])
            build[f"{kind}_build_s"] = round(time.perf_counter() - started, 1)
            # The machine is shared: the 1-minute load average as the build ends says how much.
            build[f"{kind}_load_avg_at_end"] = round(os.getloadavg()[0], 1)
            cursor.execute("SELECT pg_relation_size(%s::regclass)", [name])
            build[f"{kind}_mb"] = round(cursor.fetchone()[0] / 2**20, 1)
        for name in BUILD_SETTINGS:
            cursor.execute(f"RESET {name}")
        cursor.execute("ANALYZE library_chunk")
        cursor.execute("SELECT pg_total_relation_size('library_chunk')")
        build["table_total_mb"] = round(cursor.fetchone()[0] / 2**20, 1)
    return build


def library_10k() -> tuple[list[str], list[list[int]]]:
    """The 10k library's chunk texts and their sentence ids, in load order."""
    sentences, by_source = sentence_pool()
    layout = make_layout(len(by_source))
    counts = chunks_per_document(10_000)
    texts, ids = [], []
    for doc in range(DOCUMENTS):
        for _, text, picked in document_chunks(doc, int(counts[doc]), by_source, sentences, layout):
            texts.append(text)
            ids.append(picked)
    return texts, ids


def calibration() -> dict:
    """Sigma for the stand-in, chosen on the real vectors of the 10k library's first chunks."""
    path = CACHE / "standin-calibration.json"
    if path.exists():
        return json.loads(path.read_text())
    sentences, _ = sentence_pool()
    texts, ids = library_10k()
    real = cached_embeddings("calibration", texts[:CALIBRATION_CHUNKS])
    report = standin_check(
        real, ids[:CALIBRATION_CHUNKS], cached_embeddings("sentences", sentences), question_vectors()
    )
    path.write_text(json.dumps(report, indent=2))
    return report


def standin_sigma() -> float:
    return float(calibration()["sigma"])


def check_on_10k(*, embed: bool) -> dict | None:
    """The same comparison on all 10k chunks (None when their real vectors are not made yet and
    `embed` is False): does the calibrated sigma still come closest?"""
    sentences, _ = sentence_pool()
    texts, ids = library_10k()
    if not embed and not cache_path("chunks10000", texts).exists():
        return None
    real = cached_embeddings("chunks10000", texts)
    return standin_check(real, ids, cached_embeddings("sentences", sentences), question_vectors())


def question_vectors() -> np.ndarray:
    from library.embeddings import embed_query

    texts = questions()
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"questions-{digest}.npy"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        # One at a time, as the agent embeds a question.
        np.save(path, np.stack([embed_query(text) for text in texts]).astype(np.float32))
    return np.load(path)


# --- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Search settings of one row; None keeps the project's own."""

    label: str
    ef_search: int | None = None
    row_scan: int | None = None  # the project's row_scan_chunks (0: always the HNSW and GIN indexes)
    iterative_scan: str | None = None
    session: tuple[tuple[str, str], ...] = ()
    partial: bool = False  # one partial HNSW index per org (WHERE org_id = N) beside the global one


def parse_config(text: str) -> Config:
    if text == "default":
        return Config(label="project")
    ef, row_scan, iterative, session, partial = None, None, None, [], False
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key == "partial":
            partial = True
        elif key == "ef":
            ef = int(value)
        elif key == "row_scan":
            row_scan = int(value)
        elif key == "iter":
            if value not in {"strict_order", "relaxed_order", "off"}:
                raise SystemExit(f"iter must be strict_order, relaxed_order or off, not {value!r}")
            iterative = value
        elif key == "max_scan_tuples":
            session.append(("hnsw.max_scan_tuples", str(int(value))))
        elif key == "scan_mem":
            session.append(("hnsw.scan_mem_multiplier", str(float(value))))
        else:
            raise SystemExit(f"unknown setting {key!r} in --config {text!r}")
    return Config(
        label=text, ef_search=ef, row_scan=row_scan, iterative_scan=iterative, session=tuple(session), partial=partial
    )


def partial_indexes_create(org_ids: list[int]) -> dict:
    """One HNSW index per org, as the model's but WHERE org_id = N; timed, with their total size.

    A query's `c.org_id = N` (Django sends parameters inline) lets the planner pick its org's
    index, which holds no other org's rows: no filtering during the graph walk."""
    with connection.cursor() as cursor:
        for name, setting in BUILD_SETTINGS.items():
            cursor.execute(f"SET {name} = '{setting}'")
        started = time.perf_counter()
        for org_id in org_ids:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS chunk_hnsw_org_{org_id} ON library_chunk USING hnsw"
                f" (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64) WHERE org_id = {org_id}"
            )
        seconds = time.perf_counter() - started
        for name in BUILD_SETTINGS:
            cursor.execute(f"RESET {name}")
        cursor.execute("ANALYZE library_chunk")
        cursor.execute(
            "SELECT sum(pg_relation_size(indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname LIKE 'chunk_hnsw_org_%'"
        )
        size = cursor.fetchone()[0] or 0
    return {"partial_build_s": round(seconds, 1), "partial_mb": round(float(size) / 2**20, 1), "indexes": len(org_ids)}


def partial_indexes_drop(org_ids: list[int]) -> None:
    with connection.cursor() as cursor:
        for org_id in org_ids:
            cursor.execute(f"DROP INDEX IF EXISTS chunk_hnsw_org_{org_id}")


@contextmanager
def applied(config: Config) -> Iterator[list[tuple[str, list, float]]]:
    """Run with the config's settings; yields the list the statements sent are recorded into."""
    sent: list[tuple[str, list, float]] = []

    def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if config.iterative_scan and sql.startswith("SET LOCAL hnsw.iterative_scan"):
            sql = f"SET LOCAL hnsw.iterative_scan = {config.iterative_scan}"
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sent.append((sql, params, (time.perf_counter() - started) * 1000))

    saved = ranking.KNOBS
    if config.ef_search is not None:
        ranking.KNOBS = replace(ranking.KNOBS, ef_search=config.ef_search)
    if config.row_scan is not None:
        ranking.KNOBS = replace(ranking.KNOBS, row_scan_chunks=config.row_scan)
    with connection.cursor() as cursor:
        for name, value in config.session:
            cursor.execute(f"SET {name} = {value}")
    try:
        with connection.execute_wrapper(wrapper):
            yield sent
    finally:
        ranking.KNOBS = saved
        with connection.cursor() as cursor:
            for name, _ in config.session:
                cursor.execute(f"RESET {name}")


def _is_scope_pass(sql: str) -> bool:
    """A small scope's one pass over its rows (library.search.sql._terms_held): the term counts,
    the lexical scores and, when page_search gives it the question's vector, the dense candidates."""
    return "string_agg(s.id" in sql


def dense_statements(sent: list[tuple[str, list, float]]) -> tuple[list[str], str, list] | None:
    """The SET LOCALs and the dense query `chunk_search` sent (the one ordering by distance);
    None when the dense candidates came with the scope's pass."""
    sets = [sql for sql, _, _ in sent if sql.startswith("SET LOCAL")]
    for sql, params, _ in sent:
        if "<=>" in sql and "LIMIT" in sql and not _is_scope_pass(sql):
            return sets, sql, params
    if not any(_is_scope_pass(sql) and "<=>" in sql for sql, _, _ in sent):
        raise RuntimeError("page_search sent no dense query: has the search SQL changed?")
    return None


def row_scan_dense_statement(
    org: Organization, topic_ids: list[int] | None, document_ids: list[int] | None, vector: list[float]
) -> tuple[list[str], str, list]:
    """The exact dense query a row scan sends on its own (`_dense_candidates`), for a search whose
    pass over the scope measured its dense candidates: its latency and recall stand for theirs."""
    caught: list[tuple[str, list]] = []

    def catch(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        caught.append((sql, params))
        return execute(sql, params, many, context)

    where, params = search_sql._filters(org, topic_ids, document_ids)
    knobs = ranking.KNOBS
    with transaction.atomic(), connection.cursor() as cursor, connection.execute_wrapper(catch):
        search_sql._dense_candidates(cursor, vector, where, params, knobs.candidates, knobs.ef_search, row_scan=True)
    return [], caught[-1][0], caught[-1][1]


# Where page_search's time goes, by the statements it sends (recognised by their text).
_STAGES = [
    ("scope_terms", _is_scope_pass),
    ("dense", lambda sql: "<=>" in sql and "LIMIT" in sql),
    ("window_lexemes", lambda sql: "WITH ORDINALITY" in sql),
    ("query_terms", lambda sql: "tsvector_to_array(to_tsvector" in sql or "count(*)" in sql),
    ("lexical", lambda sql: "ts_rank_cd" in sql),
    ("page_rows", lambda sql: "unnest(" in sql and "<=>" in sql),
]


def stage_times(sent: list[tuple[str, list, float]]) -> dict[str, float]:
    """Milliseconds each stage's statements took (execution; fetching rows counts as outside_sql)."""
    times = {name: 0.0 for name, _ in _STAGES} | {"other_sql": 0.0}
    for sql, _, ms in sent:
        name = next((name for name, test in _STAGES if test(sql)), "other_sql")
        times[name] += ms
    return times


def run_dense(sets: list[str], sql: str, params: list, *, exact: bool) -> tuple[list[tuple[int, float]], float]:
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in sets:
            cursor.execute(statement)
        if exact:
            cursor.execute("SET LOCAL enable_indexscan = off")
        started = time.perf_counter()
        cursor.execute(sql, params)
        rows = [(row[0], float(row[1])) for row in cursor.fetchall()]
        return rows, (time.perf_counter() - started) * 1000


def plan_of(sets: list[str], sql: str, params: list) -> str:
    """The dense query's plan, shortened to its scan nodes ("Index Scan chunk_embedding_hnsw")."""
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in sets:
            cursor.execute(statement)
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes: list[str] = []

    def walk(node: dict) -> None:
        if "Scan" in node["Node Type"] or node["Node Type"] == "Sort":
            nodes.append(" ".join(filter(None, [node["Node Type"], node.get("Index Name")])))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return " > ".join(nodes)


def recall_at_10(approx: list[tuple[int, float]], exact: list[tuple[int, float]]) -> float | None:
    """Share of the exact 10 nearest found; an approximate hit as near as the 10th counts."""
    if not exact:
        return None
    k = min(10, len(exact))
    tenth = sorted((s for _, s in exact), reverse=True)[k - 1]
    found = sum(1 for _, s in sorted(approx, key=lambda r: -r[1])[:k] if s >= tenth - 1e-6)
    return found / k


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(
    *,
    config: Config,
    texts: list[str],
    vectors: np.ndarray,
    targets: list[dict[str, tuple[int, list[int] | None, list[int] | None]]],
) -> dict:
    """page_search latency and dense recall@10, per filter, under one config."""
    orgs = {org.pk: org for org in Organization.objects.filter(name__startswith="scale-")}
    result: dict = {}
    if config.partial:
        print(f"  building {len(orgs)} per-org partial HNSW indexes", file=sys.stderr)
        result["partial_indexes"] = partial_indexes_create(sorted(orgs))
        print(f"  {result['partial_indexes']}", file=sys.stderr)
    with applied(config) as sent:
        for kind in FILTERS:
            result[kind] = _measure_filter(kind, sent, orgs=orgs, texts=texts, vectors=vectors, targets=targets)
            print(f"  {config.label:32} {kind:9} {result[kind]}", file=sys.stderr)
    if config.partial:
        partial_indexes_drop(sorted(orgs))
    return result


def _measure_filter(
    kind: str,
    sent: list[tuple[str, list, float]],
    *,
    orgs: dict[int, Organization],
    texts: list[str],
    vectors: np.ndarray,
    targets: list[dict[str, tuple[int, list[int] | None, list[int] | None]]],
) -> dict:
    """page_search latency, its stages, and dense recall@10 and plans, for one filter kind."""
    # Warm-up (caches, first plans), not counted.
    for i in range(5):
        org_id, topic_ids, doc_ids = targets[i][kind]
        page_search(
            org=orgs[org_id], query=texts[i], query_embedding=vectors[i].tolist(),
            topic_ids=topic_ids, document_ids=doc_ids,
        )  # fmt: skip
    loads = [os.getloadavg()[0]]
    total_ms, dense_ms, recalls, plans = [], [], [], {}
    stages: dict[str, list[float]] = {}
    for i, text in enumerate(texts):
        org_id, topic_ids, doc_ids = targets[i][kind]
        sent.clear()
        started = time.perf_counter()
        page_search(
            org=orgs[org_id], query=text, query_embedding=vectors[i].tolist(),
            topic_ids=topic_ids, document_ids=doc_ids,
        )  # fmt: skip
        total_ms.append((time.perf_counter() - started) * 1000)
        for name, ms in stage_times(sent).items():
            stages.setdefault(name, []).append(ms)
        stages.setdefault("outside_sql", []).append(total_ms[-1] - sum(ms for _, _, ms in sent))
        caught = dense_statements(list(sent))
        if caught is None:
            caught = row_scan_dense_statement(orgs[org_id], topic_ids, doc_ids, vectors[i].tolist())
        sets, sql, params = caught
        approx, ms = run_dense(sets, sql, params, exact=False)
        exact, _ = run_dense(sets, sql, params, exact=True)
        dense_ms.append(ms)
        recall = recall_at_10(approx, exact)
        if recall is not None:
            recalls.append(recall)
        plan = plan_of(sets, sql, params)
        plans[plan] = plans.get(plan, 0) + 1
    return {
        "p50_ms": round(percentile(total_ms, 0.5), 1),
        "p95_ms": round(percentile(total_ms, 0.95), 1),
        "dense_p50_ms": round(percentile(dense_ms, 0.5), 1),
        "dense_p95_ms": round(percentile(dense_ms, 0.95), 1),
        "recall@10": round(sum(recalls) / len(recalls), 4) if recalls else None,
        "recall@10_min": round(min(recalls), 2) if recalls else None,
        "stage_p50_ms": {name: round(percentile(values, 0.5), 1) for name, values in stages.items()},
        "stage_p95_ms": {name: round(percentile(values, 0.95), 1) for name, values in stages.items()},
        "queries": len(texts),
        "load_avg": round((loads[0] + os.getloadavg()[0]) / 2, 1),
        "dense_plan": plans,
    }


def query_targets(layout: Layout, org_ids: list[int], doc_ids: list[int], topic_ids: dict, count: int) -> list[dict]:
    """Per question: a random org, one of its topics, one of its documents."""
    rng = np.random.default_rng([SEED, 4])
    docs_of: dict[int, list[int]] = {}
    topics_used: dict[int, set[int]] = {}
    for doc in range(DOCUMENTS):
        org = int(layout.doc_org[doc])
        docs_of.setdefault(org, []).append(doc)
        topics_used.setdefault(org, set()).update(layout.doc_topics[doc])
    targets = []
    for _ in range(count):
        org = int(rng.integers(ORGS))
        topic = sorted(topics_used[org])[int(rng.integers(len(topics_used[org])))]
        doc = docs_of[org][int(rng.integers(len(docs_of[org])))]
        targets.append(
            {
                "org": (org_ids[org], None, None),
                "topic": (org_ids[org], [topic_ids[(org, topic)]], None),
                "document": (org_ids[org], None, [doc_ids[doc]]),
            }
        )
    return targets


# --- output -----------------------------------------------------------------------------------


def _vectors_label(run: dict) -> str:
    storage = storage_of(run)
    return run["vectors"] + ("" if storage == "main" else f", storage {storage}")


def storage_of(run: dict) -> str:
    """The run's --storage (runs saved before the option say only where the tsvector was)."""
    if "storage" in run:
        return run["storage"]
    return "tsvector-main" if run.get("tsvector_storage") == "main" else "extended"


def table(results: dict) -> str:
    """One row per library and settings: builds, then page_search and the dense SQL per filter."""
    lines = [
        "| chunks | vectors | HNSW build s / MB | GIN build s / MB | settings | page_search p50 / p95 ms:"
        " org, topic, document | dense SQL p50 / p95 ms: org, topic, document | recall@10: org, topic, document"
        " | load avg |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in results["runs"]:
        build = run["build"]
        first = True
        for config, by_filter in run["configs"].items():
            if "partial_indexes" in by_filter:
                built = by_filter["partial_indexes"]
                config = (
                    f"{config} ({built['indexes']} indexes: {built['partial_build_s']} s, {built['partial_mb']} MB)"
                )
            rows = [by_filter[kind] for kind in FILTERS]
            head = (
                [
                    f"{run['size']:,}",
                    _vectors_label(run),
                    f"{build['hnsw_build_s']} / {build['hnsw_mb']}",
                    f"{build['gin_build_s']} / {build['gin_mb']}",
                ]
                if first
                else [""] * 4
            )
            first = False
            cells = [
                *head,
                config,
                ", ".join(f"{row['p50_ms']:.0f} / {row['p95_ms']:.0f}" for row in rows),
                ", ".join(f"{row['dense_p50_ms']:.1f} / {row['dense_p95_ms']:.0f}" for row in rows),
                ", ".join(f"{row['recall@10']:.3f}" if row["recall@10"] is not None else "-" for row in rows),
                f"{max(row['load_avg'] for row in rows):.1f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


_SVG_WIDTH, _SVG_HEIGHT, _SVG_PAD = 440, 300, 55
_SVG_COLOURS = {
    "org": "#1f77b4",
    "topic": "#2ca02c",
    "document": "#d62728",
    "hnsw": "#9467bd",
    "gin": "#ff7f0e",
    "dense": "#7f7f7f",
}


def svg_plot(results: dict) -> str:
    """Two log-log panels by hand: page_search p50/p95 per filter, and HNSW build time, vs size."""
    by_size: dict[int, dict] = {}
    for run in results["runs"]:  # the stand-in run where a size has both, as the larger sizes do
        if storage_of(run) != "main":
            continue
        if run["size"] not in by_size or run["vectors"] == "stand-in":
            by_size[run["size"]] = run
    sizes = sorted(by_size)
    latency: dict[str, list[tuple[int, float]]] = {}
    for kind in FILTERS:
        for stat in ("p50", "p95"):
            latency[f"{kind} {stat}"] = [
                (s, by_size[s]["configs"]["project"][kind][f"{stat}_ms"])
                for s in sizes
                if "project" in by_size[s]["configs"]
            ]
    latency["dense sql p95, org filter"] = [
        (s, by_size[s]["configs"]["project"]["org"]["dense_p95_ms"])
        for s in sizes
        if "project" in by_size[s]["configs"]
    ]
    build = {
        "hnsw build s": [(s, by_size[s]["build"]["hnsw_build_s"]) for s in sizes],
        "gin build s": [(s, by_size[s]["build"]["gin_build_s"]) for s in sizes],
        "hnsw MB": [(s, by_size[s]["build"]["hnsw_mb"]) for s in sizes],
    }
    targets = {"target p50 at 1M": TARGETS["page_search p50 ms"], "target p95 at 1M": TARGETS["page_search p95 ms"]}
    dashed = {k for k in latency if "p95" in k}
    body = _svg_panel(0, "page_search ms (project settings)", latency, "ms, log-log", dashed, targets, sizes)
    body += _svg_panel(_SVG_WIDTH, "index build and size", build, "s / MB, log-log", {"hnsw MB"}, {}, sizes)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * _SVG_WIDTH}" height="{_SVG_HEIGHT}" '
        f'font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n'
    )


@dataclass(frozen=True)
class _Axes:
    """Where a (size, value) point of one panel lands: both axes logarithmic."""

    x0: int
    sizes: list[int]
    lo: float
    hi: float

    def x(self, size: int) -> float:
        xs_lo, xs_hi = math.log10(min(self.sizes)) - 0.2, math.log10(max(self.sizes)) + 0.2
        return self.x0 + _SVG_PAD + (math.log10(size) - xs_lo) / (xs_hi - xs_lo) * (_SVG_WIDTH - 1.5 * _SVG_PAD)

    def y(self, value: float) -> float:
        span = math.log10(self.hi) - math.log10(self.lo)
        return (
            _SVG_HEIGHT - _SVG_PAD + -(math.log10(value) - math.log10(self.lo)) / span * (_SVG_HEIGHT - 1.7 * _SVG_PAD)
        )


def _svg_panel(
    x0: int,
    title: str,
    series: dict[str, list[tuple[int, float]]],
    unit: str,
    dashed: set[str],
    marks: dict,
    sizes: list[int],
) -> str:
    values = [v for points in series.values() for _, v in points if v > 0] + list(marks.values())
    if not values or not sizes:
        return ""
    lo, hi = 10 ** math.floor(math.log10(min(values))), 10 ** math.ceil(math.log10(max(values)))
    axes = _Axes(x0=x0, sizes=sizes, lo=lo, hi=hi)
    out = _svg_frame(axes, title, unit)
    right = x0 + _SVG_WIDTH - _SVG_PAD / 2
    for label, value in marks.items():  # the targets, as grey lines
        out.append(
            f'<line x1="{x0 + _SVG_PAD}" y1="{axes.y(value):.1f}" x2="{right}" y2="{axes.y(value):.1f}"'
            f' stroke="#888" stroke-dasharray="2,3"/><text x="{right}" y="{axes.y(value) - 3:.1f}"'
            f' text-anchor="end" fill="#666">{label}</text>'
        )
    legend_y = 40
    for name, points in series.items():
        colour = _SVG_COLOURS.get(name.split()[0], "#444")
        dash = ' stroke-dasharray="5,4"' if name in dashed else ""
        path = " ".join(f"{axes.x(s):.1f},{axes.y(v):.1f}" for s, v in points if v > 0)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for s, v in points:
            if v > 0:
                out.append(f'<circle cx="{axes.x(s):.1f}" cy="{axes.y(v):.1f}" r="3" fill="{colour}"/>')
        out.append(
            f'<line x1="{x0 + _SVG_PAD + 10}" y1="{legend_y}" x2="{x0 + _SVG_PAD + 30}" y2="{legend_y}"'
            f' stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{x0 + _SVG_PAD + 35}" y="{legend_y + 4}">{name}</text>'
        )
        legend_y += 15
    return "\n".join(out)


def _svg_frame(axes: _Axes, title: str, unit: str) -> list[str]:
    """A panel's title, axes, decade grid lines and size labels."""
    x0, pad, width, height = axes.x0, _SVG_PAD, _SVG_WIDTH, _SVG_HEIGHT
    out = [f'<text x="{x0 + width / 2}" y="22" text-anchor="middle" font-weight="bold">{title}</text>']
    axis_y = height - pad
    out.append(f'<line x1="{x0 + pad}" y1="{axis_y}" x2="{x0 + width - pad / 2}" y2="{axis_y}" stroke="black"/>')
    out.append(f'<line x1="{x0 + pad}" y1="{height - pad}" x2="{x0 + pad}" y2="{0.7 * pad}" stroke="black"/>')
    decade = axes.lo
    while decade <= axes.hi:
        y = axes.y(decade)
        out.append(f'<text x="{x0 + pad - 5}" y="{y + 4}" text-anchor="end">{decade:g}</text>')
        out.append(f'<line x1="{x0 + pad}" y1="{y}" x2="{x0 + width - pad / 2}" y2="{y}" stroke="#ddd"/>')
        decade *= 10
    for size in axes.sizes:
        label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
        out.append(f'<text x="{axes.x(size)}" y="{height - pad + 16}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{x0 + width / 2}" y="{height - 12}" text-anchor="middle">chunks ({unit})</text>')
    return out


# --- main ---------------------------------------------------------------------------------------


def _run_key(run: dict) -> tuple[int, str, str]:
    return run["size"], run["vectors"], storage_of(run)


def main() -> None:
    args = parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if any(size < DOCUMENTS for size in sizes):
        raise SystemExit(f"every size must be at least {DOCUMENTS} (one chunk per document)")
    configs = [parse_config(text) for text in args.config]
    if not args.no_project_settings:
        configs.insert(0, parse_config("default"))

    _, by_source = sentence_pool()
    layout = make_layout(len(by_source))
    org_ids, doc_ids, topic_ids = ensure_owners(layout, source_names())
    texts = questions()
    vectors = question_vectors()
    targets = query_targets(layout, org_ids, doc_ids, topic_ids, len(texts))
    calibrated = calibration()
    sigma = calibrated["sigma"]
    check = check_on_10k(embed=10_000 in sizes) or calibrated
    print(f"stand-in check (quantiles p5/p25/p50/p75/p95): real {check['real']}", file=sys.stderr)
    print(f"  sigma {sigma}: {check['standin'][str(sigma)]}", file=sys.stderr)

    runs = []
    for size, kind in measurement_plan(sizes, standin_at_10k=not args.no_standin_at_10k):
        storage = args.storage
        build = library_loaded(size, kind, storage, sigma, layout=layout, doc_ids=doc_ids, org_ids=org_ids)
        per_org = np.bincount(layout.doc_org, weights=chunks_per_document(size), minlength=ORGS)
        run = {
            "size": size,
            "vectors": kind,
            "sigma": sigma if kind == "stand-in" else None,
            "storage": storage,
            "chunks_per_org_min_median_max": [int(per_org.min()), int(np.median(per_org)), int(per_org.max())],
            "build": build,
            "configs": {
                config.label: measure(config=config, texts=texts, vectors=vectors, targets=targets)
                for config in configs
            },
            "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        }
        runs.append(run)

    summary = summary_of(runs, questions=len(texts), calibrated=calibrated, check=check)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    PLOT.write_text(svg_plot(summary))
    print_standin_check(check, calibrated, sigma)
    print(table(summary))
    print(f"\nsaved {RESULTS.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")


def summary_of(runs: list[dict], *, questions: int, calibrated: dict, check: dict) -> dict:
    """What the JSON result holds: the settings, the stand-in's calibration, the server, every run."""
    sigma = calibrated["sigma"]
    return {
        "targets_at_1M": TARGETS,
        "organizations": ORGS,
        "documents": DOCUMENTS,
        "questions": questions,
        "filters": "org: the org only; topic: one topic of the org; document: one document of the org",
        "project_settings": {
            "hnsw.ef_search": ranking.KNOBS.ef_search,
            "hnsw.iterative_scan": "relaxed_order",
            "row_scan_chunks": ranking.KNOBS.row_scan_chunks,
        },
        "hnsw_index": "m=16, ef_construction=64, vector_cosine_ops (library/models.py)",
        "standin": {
            "sigma": sigma,
            "calibration": calibrated,
            "check_on_10k": check if check is not calibrated else None,
        },
        **server_facts(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "runs": with_earlier_runs(runs),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="chunk counts, comma-separated")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        help="extra search settings to measure, e.g. ef=400 or iter=strict_order,max_scan_tuples=50000 (repeatable)",
    )
    parser.add_argument(
        "--no-project-settings",
        action="store_true",
        help="measure only the --config rows (the project's row measured before on the same library is kept)",
    )
    parser.add_argument("--no-standin-at-10k", action="store_true", help="at 10k, only the real vectors")
    parser.add_argument(
        "--storage",
        choices=sorted(STORAGES),
        default="main",
        help="where rows keep their tsvector and embedding: main (the project's: in the row), extended (both"
        " in TOAST, as before library migration 0006) or tsvector-main (the tsvector alone in the row)",
    )
    return parser.parse_args()


def measurement_plan(sizes: list[int], *, standin_at_10k: bool) -> list[tuple[int, str]]:
    """(size, vectors) of each library measured: real vectors at 10k, stand-ins at every size."""
    plan: list[tuple[int, str]] = []
    for size in sizes:
        if size == 10_000:
            plan.append((size, "real"))
            if standin_at_10k:
                plan.append((size, "stand-in"))
        else:
            plan.append((size, "stand-in"))
    return plan


def library_loaded(
    size: int, kind: str, storage: str, sigma: float, *, layout: Layout, doc_ids: list[int], org_ids: list[int]
) -> dict:
    """The library of this size and vectors in library_chunk (kept from the last run when the
    same); its build numbers."""
    fingerprint = f"{GENERATOR}-{SEED}-{size}-{kind}-{sigma if kind == 'stand-in' else ''}-{storage}"
    state = json.loads(STATE.read_text()) if STATE.exists() else {}
    if state.get("fingerprint") == fingerprint:
        build = state["build"]
        print(f"{size} chunks ({kind}) already loaded; build numbers from {build['measured_at']}", file=sys.stderr)
    else:
        print(f"loading {size} chunks ({kind} vectors)", file=sys.stderr)
        build = load_library(
            size=size,
            vectors=kind,
            storage=storage,
            fingerprint=fingerprint,
            layout=layout,
            doc_ids=doc_ids,
            org_ids=org_ids,
        )
    print(f"  build: {build}", file=sys.stderr)
    return build


def with_earlier_runs(runs: list[dict]) -> list[dict]:
    """These runs with the saved ones of other libraries; settings measured before on the same
    library and not now stay in the table."""
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": []}
    earlier = {_run_key(r): r for r in previous.get("runs", [])}
    for run in runs:
        old = earlier.get(_run_key(run))
        if old is not None and old["build"] == run["build"]:
            run["configs"] = {**old["configs"], **run["configs"]}
    done = {_run_key(r) for r in runs}
    kept = [r for r in previous.get("runs", []) if _run_key(r) not in done]
    return sorted(kept + runs, key=lambda r: (r["size"], r["vectors"] != "real", _run_key(r)[2]))


def server_facts() -> dict:
    """The PostgreSQL server's version, pgvector's, and the settings that bear on search."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        pgvector_version = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
        server_settings = {}
        for name in [
            "shared_buffers",
            "work_mem",
            "effective_cache_size",
            "hnsw.max_scan_tuples",
            "hnsw.scan_mem_multiplier",
        ]:
            cursor.execute("SELECT current_setting(%s, true)", [name])
            server_settings[name] = cursor.fetchone()[0]
    return {"postgres": server_version, "pgvector": pgvector_version, "server_settings": server_settings}


def print_standin_check(check: dict, calibrated: dict, sigma: float) -> None:
    real_row, chosen = check["real"], check["standin"][str(sigma)]
    print(
        f"\nstand-in check on {check['chunks']} chunks (quantiles p5/p25/p50/p75/p95; sigma {sigma}, calibrated on"
        f" {calibrated['chunks']}; the closest sigma on these chunks: {check['sigma']}):\n"
        f"  nearest-neighbour cos   real {real_row['nn1_cos']}  stand-in {chosen['nn1_cos']}\n"
        f"  10th-neighbour cos      real {real_row['nn10_cos']}  stand-in {chosen['nn10_cos']}\n"
        f"  question top-10 cos     real {real_row['question_top10_cos']}  stand-in {chosen['question_top10_cos']}\n"
        f"  real 10-NN kept among stand-in 10-NN: {chosen['real_10nn_kept']}; median cos(real, stand-in) "
        f"{chosen['cos_to_real_median']}\n"
    )


if __name__ == "__main__":
    main()
