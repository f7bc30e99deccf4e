"""The embedding model's one-time export to ONNX, cached under DATA_DIR/embeddings-onnx/.

One folder per key: the model's files and the exporter (torch's version and our export
format), so a new model, a new torch or a change here makes a new export. Processes that
start together share one export: the first takes a file lock and exports into a temporary
folder that it renames into place; the others wait on the lock and reuse the folder. torch
and sentence-transformers are imported here only, and only to export.
"""

import contextlib
import fcntl
import hashlib
import importlib.metadata
import inspect
import io
import json
import logging
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from library.model_spec import ModelSpec, UnsupportedModel, model_digest
from library.onnx_encoder import OnnxEncoder

logger = logging.getLogger(__name__)

# Bump when what an export folder holds changes (inputs, opset, files), so old ones are redone.
EXPORT_FORMAT_VERSION = 1
# The first opset with ONNX's Attention operator: torch's scaled-dot-product attention becomes
# one node that ONNX Runtime runs fused on CPU (measured: 10.2 against 8.4 texts/s on one
# thread for the same model exported with the attention spelled out).
OPSET = 23
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts the export is checked on before it is kept: cases, accents, symbols, blanks, and one
# longer than any model's limit, so truncation is checked too.
_CHECK_TEXTS = [
    "",
    "  VDDIO  ",
    "What I2C address does the BME280 use when SDO is tied to GND?",
    "Supply current IDD = 3.6 µA at 1 Hz; ±0.5 °C accuracy, 2.7 kΩ pull-ups, VIH ≥ 0.7·VDD.",
    "Ünïcödé Façade naïve — 温度センサー 0x76/0x77",
    " ".join(f"Register 0x{n:02X} CTRL{n} holds bits [7:0] for the {n}th channel;" for n in range(120)),
]
_MIN_CHECK_COSINE = 0.9999


@dataclass(frozen=True)
class OnnxExport:
    path: Path  # model.onnx, tokenizer.json and export.json
    made: bool  # made by this call (False: found, perhaps made by another process meanwhile)


class ExportMismatch(RuntimeError):
    """The exported model does not give the vectors sentence-transformers gives."""


def exporter_version() -> str:
    try:
        torch_version = importlib.metadata.version("torch")  # without importing torch
    except importlib.metadata.PackageNotFoundError:
        torch_version = "none"
    return f"torch-{torch_version}+format-{EXPORT_FORMAT_VERSION}"


def export_key(spec: ModelSpec) -> str:
    return hashlib.sha256(f"{model_digest(spec)}\n{exporter_version()}".encode()).hexdigest()[:20]


def cache_folder() -> Path:
    return Path(settings.DATA_DIR) / "embeddings-onnx"


def onnx_export_ensure(spec: ModelSpec) -> OnnxExport:
    """The model's export, made now (under the lock) when no process has made it yet."""
    key = export_key(spec)
    root = cache_folder()
    final = root / key
    if (final / "export.json").exists():
        return OnnxExport(path=final, made=False)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "a") as lock:
        started = time.monotonic()
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another process exports this key
        if (final / "export.json").exists():
            logger.info(
                "embedding model: reusing the ONNX export another process made (waited %.1f s)",
                time.monotonic() - started,
            )
            return OnnxExport(path=final, made=False)
        for stale in root.glob(f"{key}.tmp-*"):  # left by an export that died; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        temporary = root / f"{key}.tmp-{os.getpid()}"
        temporary.mkdir()
        try:
            logger.info("embedding model: exporting %s to ONNX (once per model and exporter)", spec.path)
            info = _export(spec, temporary, key)
            os.rename(temporary, final)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    logger.info(
        "embedding model exported to ONNX in %.1f s: %s (lowest cosine to torch on the check texts %.6f)",
        info["seconds"],
        final,
        info["check_min_cosine"],
    )
    return OnnxExport(path=final, made=True)


def _export(spec: ModelSpec, folder: Path, key: str) -> dict[str, Any]:
    started = time.monotonic()
    import torch

    # torch sets its loggers' levels when imported: "torchvision is not installed" four times.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)

    model, auto_model, inputs = _exportable(spec)
    tokenizer = model.tokenizer

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = auto_model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(inputs, tensors, strict=True)), return_dict=True).last_hidden_state

    # Two texts of different lengths, so the example batch has padding and a real mask.
    example = tokenizer(_CHECK_TEXTS[2:4], padding=True, return_tensors="pt")
    batch = torch.export.Dim("batch", min=1, max=4096)
    sequence = torch.export.Dim("sequence", min=1, max=spec.max_seq_length)
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenEmbeddings().eval(),
            tuple(example[name] for name in inputs),
            str(folder / "model.onnx"),
            dynamo=True,
            input_names=inputs,
            output_names=["token_embeddings"],
            dynamic_shapes=(tuple({0: batch, 1: sequence} for _ in inputs),),  # for the one *tensors
            opset_version=OPSET,
            external_data=False,
            verbose=False,
        )
    # The tokenizer exactly as sentence-transformers set it up (lower-casing included).
    (folder / "tokenizer.json").write_text(tokenizer.backend_tokenizer.to_str())
    info: dict[str, Any] = {
        "key": key,
        "model_path": str(spec.path),
        "model_digest": model_digest(spec),
        "exporter": exporter_version(),
        "opset": OPSET,
        "inputs": inputs,
        "pad_token_id": int(tokenizer.pad_token_id or 0),
        "max_seq_length": spec.max_seq_length,
        "pooling": spec.pooling,
        "normalize": spec.normalize,
    }
    (folder / "export.json").write_text(json.dumps(info, indent=2) + "\n")
    info["check_min_cosine"] = _check(spec, folder, model)
    info["seconds"] = round(time.monotonic() - started, 2)
    (folder / "export.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _exportable(spec: ModelSpec) -> tuple[Any, Any, list[str]]:
    """The sentence-transformers model, its transformer and the inputs the export takes; raises
    UnsupportedModel for a model this export cannot reproduce exactly."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(spec.path), device="cpu", local_files_only=True)
    transformer = model[0]
    text_modality = getattr(transformer, "modality_config", {}).get("text", {})
    if text_modality.get("method", "forward") != "forward" or text_modality.get("method_output_name") not in (
        "last_hidden_state",
        ("last_hidden_state",),
        ["last_hidden_state"],
        None,
    ):
        raise UnsupportedModel(f"{spec.path}: the transformer's text output is {text_modality}, not last_hidden_state")
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise UnsupportedModel(f"{spec.path}: no fast tokenizer (tokenizer.json) to tokenize without transformers")
    auto_model: Any = transformer.auto_model
    auto_model.eval()
    accepted = set(inspect.signature(auto_model.forward).parameters)
    inputs = [name for name in MODEL_INPUTS if name in tokenizer.model_input_names and name in accepted]
    unknown = set(tokenizer.model_input_names) - set(MODEL_INPUTS)
    if inputs[:2] != ["input_ids", "attention_mask"] or unknown & accepted:
        raise UnsupportedModel(f"{spec.path}: model inputs {tokenizer.model_input_names} are not supported")
    return model, auto_model, inputs


def _check(spec: ModelSpec, folder: Path, model: Any) -> float:
    """Refuse an export whose tokens or vectors differ from sentence-transformers' own."""
    encoder = OnnxEncoder(spec, folder, threads=1)
    expected_ids = model.preprocess(_CHECK_TEXTS)
    for row, text in enumerate(_CHECK_TEXTS):
        mask = expected_ids["attention_mask"][row].bool()
        if encoder.token_ids(text) != expected_ids["input_ids"][row][mask].tolist():
            raise ExportMismatch(f"{spec.path}: tokens of {text[:40]!r} differ from sentence-transformers'")
    expected = model.encode(_CHECK_TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    got = encoder.encode(_CHECK_TEXTS, batch_size=4, one_thread=True)
    got = got / np.maximum(np.linalg.norm(got, axis=1, keepdims=True), 1e-12)
    cosine = float(np.min(np.sum(expected * got, axis=1)))
    if cosine < _MIN_CHECK_COSINE:
        raise ExportMismatch(f"{spec.path}: the ONNX export's vectors differ from torch's (cosine {cosine:.6f})")
    return round(cosine, 7)
