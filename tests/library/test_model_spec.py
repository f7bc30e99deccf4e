"""What the ONNX backend reads from a sentence-transformers folder, and what it refuses."""

import json
import shutil
from pathlib import Path

import pytest

from library.embeddings import model_path
from library.model_spec import UnsupportedModel, model_digest, read_model_spec

BUNDLED = Path(model_path())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The bundled model's configuration files (not its weights), to edit."""
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("modules.json", "sentence_bert_config.json", "config.json", "config_sentence_transformers.json"):
        shutil.copyfile(BUNDLED / name, copy / name)
    (copy / "1_Pooling").mkdir()
    shutil.copyfile(BUNDLED / "1_Pooling" / "config.json", copy / "1_Pooling" / "config.json")
    return copy


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_the_bundled_model_reads_as_mean_pooling_normalised_at_256_tokens() -> None:
    spec = read_model_spec(BUNDLED)
    assert (spec.pooling, spec.normalize, spec.max_seq_length, spec.do_lower_case) == ("mean", True, 256, False)
    assert spec.dimensions == 384


def test_pooling_and_normalize_come_from_the_folder(folder: Path) -> None:
    _edit(folder / "1_Pooling" / "config.json", pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").write_text(json.dumps(modules[:2]))
    spec = read_model_spec(folder)
    assert (spec.pooling, spec.normalize) == ("cls", False)


@pytest.mark.parametrize(
    "pooling",
    [
        {"pooling_mode_mean_tokens": False, "pooling_mode_weightedmean_tokens": True},
        {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True},
        {"pooling_mode": "lasttoken"},
    ],
)
def test_a_pooling_it_cannot_reproduce_is_refused(folder: Path, pooling: dict[str, object]) -> None:
    _edit(folder / "1_Pooling" / "config.json", **pooling)
    with pytest.raises(UnsupportedModel, match="pooling"):
        read_model_spec(folder)


def test_a_dense_module_is_refused(folder: Path) -> None:
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(UnsupportedModel, match="Dense"):
        read_model_spec(folder)


def test_a_missing_max_seq_length_or_an_unknown_option_is_refused(folder: Path) -> None:
    (folder / "sentence_bert_config.json").write_text(json.dumps({"do_lower_case": False}))
    with pytest.raises(UnsupportedModel, match="max_seq_length"):
        read_model_spec(folder)
    _edit(folder / "sentence_bert_config.json", max_seq_length=256, model_args={"trust_remote_code": True})
    with pytest.raises(UnsupportedModel, match="model_args"):
        read_model_spec(folder)


def test_a_default_prompt_is_refused(folder: Path) -> None:
    _edit(folder / "config_sentence_transformers.json", prompts={"query": "query: "}, default_prompt_name="query")
    with pytest.raises(UnsupportedModel, match="prompt"):
        read_model_spec(folder)


def test_a_model_name_instead_of_a_folder_is_refused() -> None:
    with pytest.raises(UnsupportedModel, match="folder"):
        read_model_spec("sentence-transformers/all-MiniLM-L6-v2")


def test_the_digest_follows_the_files_the_model_loads_only(folder: Path) -> None:
    before = model_digest(read_model_spec(folder))
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"someone else's export")
    assert model_digest(read_model_spec(folder)) == before
    _edit(folder / "1_Pooling" / "config.json", include_prompt=True)
    assert model_digest(read_model_spec(folder)) != before
