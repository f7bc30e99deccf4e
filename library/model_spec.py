"""What a sentence-transformers folder says about turning token vectors into a text's vector.

Read from the folder's own files (modules.json, sentence_bert_config.json, the pooling
module's config.json), never assumed, so the ONNX runtime pools, normalises and truncates
exactly as sentence-transformers does. A model this module cannot reproduce is refused with
`UnsupportedModel` rather than embedded differently.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

Pooling = Literal["mean", "cls", "max"]

# sentence-transformers saves module types under its old or its new module paths.
_TYPE_PREFIXES = ("sentence_transformers.models.", "sentence_transformers.")
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# Transformer-module options that change nothing when left at these values.
_HARMLESS_TRANSFORMER_OPTIONS: dict[str, tuple[object, ...]] = {
    "transformer_task": ("feature-extraction",),
    "backend": ("torch",),
    "model_args": ({}, None),
    "model_kwargs": ({}, None),
    "tokenizer_args": ({}, None),
    "processor_kwargs": ({}, None),
    "config_args": ({}, None),
    "config_kwargs": ({}, None),
    "processing_kwargs": ({}, None),
}


class UnsupportedModel(RuntimeError):
    """The model folder asks for something the ONNX runtime does not reproduce."""


@dataclass(frozen=True)
class ModelSpec:
    path: Path
    max_seq_length: int  # word pieces read, special tokens included; longer texts are cut
    do_lower_case: bool
    pooling: Pooling
    normalize: bool  # a Normalize module follows the pooling
    dimensions: int


def read_model_spec(path: str | Path) -> ModelSpec:
    folder = Path(path)
    if not folder.is_dir():
        raise UnsupportedModel(
            f"EMBEDDING_MODEL must name a sentence-transformers model folder for the onnx backend; {folder} is "
            "not a folder (EMBEDDING_BACKEND=torch also accepts a model name)."
        )
    modules = _read_json(folder / "modules.json", required=True)
    kinds = [_module_kind(module) for module in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise UnsupportedModel(f"{folder}: modules {kinds}; only Transformer, Pooling and an optional Normalize")
    if modules[0].get("path", "") != "":
        raise UnsupportedModel(f"{folder}: the Transformer module must be the folder itself")

    config = _read_json(folder / "sentence_bert_config.json", required=True)
    for key, value in config.items():
        if key in ("max_seq_length", "do_lower_case"):
            continue
        if value not in _HARMLESS_TRANSFORMER_OPTIONS.get(key, ()):
            raise UnsupportedModel(f"{folder}: sentence_bert_config.json sets {key}={value!r}")
    max_seq_length = config.get("max_seq_length")
    if not isinstance(max_seq_length, int) or max_seq_length < 2:
        raise UnsupportedModel(f"{folder}: sentence_bert_config.json gives no max_seq_length")
    model_config = _read_json(folder / "config.json", required=True)
    positions = model_config.get("max_position_embeddings")
    if isinstance(positions, int) and positions > 0 and max_seq_length > positions:
        raise UnsupportedModel(f"{folder}: max_seq_length {max_seq_length} exceeds the model's {positions} positions")
    do_lower_case = config.get("do_lower_case", False)
    if not isinstance(do_lower_case, bool):
        raise UnsupportedModel(f"{folder}: do_lower_case must be true or false")

    st_config = _read_json(folder / "config_sentence_transformers.json", required=False)
    if st_config.get("default_prompt_name"):
        raise UnsupportedModel(f"{folder}: a default prompt is set; prompts are not supported")
    if st_config.get("model_type", "SentenceTransformer") != "SentenceTransformer":
        raise UnsupportedModel(f"{folder}: model_type {st_config['model_type']!r} is not a SentenceTransformer")

    pooling_config = _read_json(folder / modules[1].get("path", "") / "config.json", required=True)
    pooling = _pooling_mode(pooling_config, folder)
    dimensions = pooling_config.get("word_embedding_dimension", pooling_config.get("embedding_dimension"))
    if not isinstance(dimensions, int):
        raise UnsupportedModel(f"{folder}: the pooling config gives no embedding dimension")
    return ModelSpec(
        path=folder,
        max_seq_length=max_seq_length,
        do_lower_case=do_lower_case,
        pooling=pooling,
        normalize=len(kinds) == 3,
        dimensions=dimensions,
    )


def model_digest(spec: ModelSpec) -> str:
    """A hash of the files sentence-transformers loads: the folder's own files and its modules'.

    Subfolders it does not load (a shipped onnx/ or openvino/ export) are left out.
    """
    digest = hashlib.sha256()
    modules = _read_json(spec.path / "modules.json", required=True)
    folders = sorted({spec.path / module.get("path", "") for module in modules})
    for folder in folders:
        if not folder.is_dir():  # Normalize saves no folder
            continue
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            digest.update(str(file.relative_to(spec.path)).encode() + b"\0")
            with file.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _read_json(path: Path, *, required: bool) -> Any:
    if not path.exists():
        if required:
            raise UnsupportedModel(f"{path} is missing: not a sentence-transformers model folder")
        return {}
    return json.loads(path.read_text())


def _module_kind(module: dict[str, Any]) -> str:
    kind = str(module.get("type", ""))
    if not kind.startswith(_TYPE_PREFIXES):
        return kind
    return kind.rsplit(".", 1)[-1]


def _pooling_mode(config: dict[str, Any], folder: Path) -> Pooling:
    modes: list[str]
    if "pooling_mode" in config:
        raw = config["pooling_mode"]
        modes = [raw] if isinstance(raw, str) else list(raw)
    else:
        # As sentence-transformers reads old configs: the flags that are on, mean when none is.
        modes = [mode for key, mode in _LEGACY_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    if len(modes) != 1 or modes[0] not in ("mean", "cls", "max"):
        raise UnsupportedModel(f"{folder}: pooling {modes}; only one of mean, cls or max is supported")
    return cast(Pooling, modes[0])
