"""Embeddings on ONNX Runtime: the exported transformer, then the model's pooling in numpy.

Imports neither torch nor transformers: texts are tokenized by the `tokenizers` library from
the tokenizer.json saved with the export (0.1 s and 25 MB to load, against 5.6 s and 260 MB
for transformers' tokenizer, which pulls in torch).
"""

import json
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer
from tokenizers.normalizers import Lowercase
from tokenizers.normalizers import Sequence as NormalizerSequence

from library.model_spec import ModelSpec


class OnnxEncoder:
    def __init__(self, spec: ModelSpec, folder: Path, *, threads: int) -> None:
        info = json.loads((folder / "export.json").read_text())
        self.spec = spec
        self.model_file = folder / "model.onnx"
        self.inputs: list[str] = info["inputs"]
        self.pad_token_id: int = info["pad_token_id"]
        self.threads = threads  # 0: ONNX Runtime's default, one per physical core
        tokenizer_json = (folder / "tokenizer.json").read_text()
        # Two tokenizers, since truncation is a tokenizer's state and threads share them.
        self._counter = _tokenizer(tokenizer_json, spec, truncate=False)
        self._tokenizer = _tokenizer(tokenizer_json, spec, truncate=True)
        self.sessions: dict[int, ort.InferenceSession] = {}  # by intra-op threads
        self._lock = threading.Lock()

    def session(self, threads: int) -> ort.InferenceSession:
        with self._lock:
            if threads not in self.sessions:
                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                # Idle pool threads sleep instead of spinning: on a machine shared with parsing,
                # web workers and others, spinning took CPU they needed (7.8 against 5.8 texts/s
                # with two threads under load).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.log_severity_level = 3
                self.sessions[threads] = ort.InferenceSession(
                    str(self.model_file), options, providers=["CPUExecutionProvider"]
                )
            return self.sessions[threads]

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without special tokens and without truncation."""
        return [len(encoding.ids) for encoding in self._counter.encode_batch(texts, add_special_tokens=False)]

    def token_ids(self, text: str) -> list[int]:
        """What the model reads for a text: special tokens added, cut at max_seq_length."""
        return list(self._tokenizer.encode(text).ids)

    def encode(self, texts: list[str], *, batch_size: int, threads: int | None = None) -> np.ndarray:
        """The model's output for each text: pooled, and normalised when the model says so.

        Texts are batched longest first, each batch padded to its longest text only, as
        sentence-transformers does (it sorts by characters; tokens are known here).
        """
        session = self.session(self.threads if threads is None else threads)
        encodings = self._tokenizer.encode_batch(texts)
        lengths = np.array([len(encoding.ids) for encoding in encodings])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.spec.dimensions), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            width = int(lengths[rows[0]])
            ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, index in enumerate(rows):
                encoding = encodings[index]
                ids[row, : lengths[index]] = encoding.ids
                types[row, : lengths[index]] = encoding.type_ids
                mask[row, : lengths[index]] = encoding.attention_mask
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            (tokens,) = session.run(["token_embeddings"], {name: feeds[name] for name in self.inputs})
            out[rows] = self._pool(tokens, mask)
        if self.spec.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

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
