"""Embeddings on ONNX Runtime: the exported transformer, then the model's pooling in numpy.

Imports neither torch nor transformers: texts are tokenized by the `tokenizers` library from
the tokenizer.json saved with the export (0.1 s and 25 MB to load, against 5.6 s and 260 MB
for transformers' tokenizer, which pulls in torch).
"""

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import psutil  # type: ignore[import-untyped]  # in requirements.txt; its stubs are not
from tokenizers import Encoding, Tokenizer
from tokenizers.normalizers import Lowercase
from tokenizers.normalizers import Sequence as NormalizerSequence

from library.model_spec import ModelSpec

# Padded word pieces per model run: two full windows, or more shorter texts. Small runs cost
# less per text than 32-text batches (measured on the datasheets' chunks, one thread: 0.76-0.79
# of the CPU time, 0.66 with the basic graph rewrites below), since a run is padded to its own
# longest text and its activations stay in the core's cache; below about 512 nothing more is won.
RUN_TOKENS = 512


def default_threads() -> int:
    """One per physical core this process may run on, as torch picks by default."""
    return max(1, min(len(os.sched_getaffinity(0)), psutil.cpu_count(logical=False) or 1))


class OnnxEncoder:
    def __init__(self, spec: ModelSpec, folder: Path, *, threads: int) -> None:
        info = json.loads((folder / "export.json").read_text())
        self.spec = spec
        self.model_file = folder / "model.onnx"
        self.inputs: list[str] = info["inputs"]
        self.pad_token_id: int = info["pad_token_id"]
        self.threads = threads or default_threads()
        tokenizer_json = (folder / "tokenizer.json").read_text()
        # Two tokenizers, since truncation is a tokenizer's state and threads share them.
        self._counter = _tokenizer(tokenizer_json, spec, truncate=False)
        self._tokenizer = _tokenizer(tokenizer_json, spec, truncate=True)
        self._session: ort.InferenceSession | None = None
        self._runners: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> ort.InferenceSession:
        """One session computing each run on one thread; several threads call it at once.

        Runs in parallel, one per core, beat one run split over the cores (1.2x here with two
        cores): no run waits at every operator for the slowest thread, which on a machine shared
        with parsing, web workers and others is often descheduled.
        """
        with self._lock:
            if self._session is None:
                options = ort.SessionOptions()
                # The basic rewrites only: the extended ones' SkipLayerNormalization and BiasGelu
                # kernels made small runs 13 % slower here than the plain LayerNormalization and
                # Gelu operators of the export.
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                self._session = ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
            return self._session

    def _runner_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._runners is None:  # made by the first call that embeds in parallel only
                self._runners = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx-embedding")
            return self._runners

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without special tokens and without truncation."""
        return [len(encoding.ids) for encoding in self._counter.encode_batch(texts, add_special_tokens=False)]

    def token_ids(self, text: str) -> list[int]:
        """What the model reads for a text: special tokens added, cut at max_seq_length."""
        return list(self._tokenizer.encode(text).ids)

    def encode(self, texts: list[str], *, batch_size: int, one_thread: bool = False) -> np.ndarray:
        """The model's output for each text: pooled, and normalised when the model says so.

        Texts are run longest first, at most `batch_size` and RUN_TOKENS padded word pieces at
        a time, each run padded to its longest text only (sentence-transformers also sorts, by
        characters; tokens are known here), `self.threads` runs at a time, or one after another
        in the calling thread with `one_thread`.
        """
        session = self.session
        encodings = self._tokenizer.encode_batch(texts)
        lengths = np.array([len(encoding.ids) for encoding in encodings])
        order = np.argsort(-lengths, kind="stable")
        runs = []
        start = 0
        while start < len(order):
            size = max(1, min(batch_size, RUN_TOKENS // max(1, int(lengths[order[start]]))))
            runs.append(order[start : start + size])
            start += size
        out = np.empty((len(texts), self.spec.dimensions), dtype=np.float32)

        def run(rows: np.ndarray) -> None:
            out[rows] = self._run(session, [encodings[index] for index in rows])

        if one_thread or self.threads == 1 or len(runs) == 1:
            for rows in runs:
                run(rows)
        else:
            for _ in self._runner_pool().map(run, runs):  # raises the first run's error, if any
                pass
        if self.spec.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _run(self, session: ort.InferenceSession, encodings: list[Encoding]) -> np.ndarray:
        """One run of the model on a few texts, right-padded to the longest, then pooled."""
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.full((len(encodings), width), self.pad_token_id, dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            ids[row, :length] = encoding.ids
            types[row, :length] = encoding.type_ids
            mask[row, :length] = encoding.attention_mask
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (tokens,) = session.run(["token_embeddings"], {name: feeds[name] for name in self.inputs})
        return self._pool(tokens, mask)

    def _pool(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """sentence-transformers' Pooling for right-padded batches, in float32 as it computes."""
        if self.spec.pooling == "mean":
            weights = mask.astype(np.float32)
            summed = np.einsum("btd,bt->bd", tokens, weights)
            return summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
        if self.spec.pooling == "cls":
            return tokens[np.arange(len(tokens)), mask.argmax(axis=1)]
        return np.where(mask[:, :, None] == 0, -np.inf, tokens).max(axis=1)  # max


def _tokenizer(tokenizer_json: str, spec: ModelSpec, *, truncate: bool) -> Tokenizer:
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()  # padded per batch by `encode`
    if truncate:
        tokenizer.enable_truncation(max_length=spec.max_seq_length, strategy="longest_first", direction="right")
    else:
        tokenizer.no_truncation()
    if spec.do_lower_case:  # as sentence-transformers does, when the tokenizer does not already
        normalizer = tokenizer.normalizer
        if not _lowercases(normalizer):
            tokenizer.normalizer = NormalizerSequence([Lowercase(), *([normalizer] if normalizer else [])])
    return tokenizer


def _lowercases(normalizer: object) -> bool:
    if isinstance(normalizer, Lowercase):
        return True
    if isinstance(normalizer, NormalizerSequence):
        return any(isinstance(part, Lowercase) for part in normalizer)  # type: ignore[attr-defined]
    return False
