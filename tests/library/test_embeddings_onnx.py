"""The ONNX backend: torch's vectors on real datasheet text, one export for processes that
start together, and a new export when its key changes.

The cross-process tests run `embed_texts` in child processes with a data folder of their
own (a fresh export cache) and a database URL they never connect to.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from library.embeddings import count_tokens, embed_texts, get_model, model_path, one_thread, onnx_encoder
from library.parsing.chunking import chunk_page
from library.parsing.pdf_text import extract_page_text, normalise_text, open_pdf
from tests.conftest import DATASHEETS, ROOT

pytestmark = [pytest.mark.slow]

# The long one is over the model's 256-token limit, and says something else after 128.
PROBE_TEXTS = [
    "VDDIO",
    "What I2C slave addresses can the BME280 use?",
    "The ADS1115 converts at 8 SPS to 860 SPS through a programmable gain amplifier. " * 8
    + "Pin ADDR selects I2C address 0x48, 0x49, 0x4A or 0x4B when tied to GND, VDD, SDA or SCL. " * 12,
]
_CHILD = """
import json, os, sys
import django
django.setup()
import library.onnx_export
if os.environ.get("TEST_EXPORT_FORMAT_VERSION"):
    library.onnx_export.EXPORT_FORMAT_VERSION = int(os.environ["TEST_EXPORT_FORMAT_VERSION"])
from library.embeddings import embed_texts, onnx_encoder
vectors = embed_texts(json.loads(sys.argv[1]))
loaded = {name: name in sys.modules for name in ("torch", "sentence_transformers", "transformers")}
print(json.dumps({"vectors": vectors.tolist(), "folder": str(onnx_encoder().model_file.parent), "loaded": loaded}))
"""


def datasheet_texts() -> list[str]:
    """Real text of three datasheets: whole pages (longer than the model reads), their
    chunks as ingestion makes them, and short lines (table cells, headings)."""
    texts: list[str] = []
    for name, pages in [("ti-ads1115.pdf", [1, 7, 19]), ("bosch-bme280.pdf", [2, 27, 32]), ("nxp-pca9685.pdf", [10])]:
        reader = open_pdf((DATASHEETS / name).read_bytes())
        for page in pages:
            text = normalise_text(extract_page_text(reader, page - 1))
            texts.append(text)
            texts.extend(draft.text for draft in chunk_page(page, text)[:3])
            texts.extend([line for line in text.split("\n") if line.strip()][:6])
    return texts


def test_onnx_gives_torchs_vectors_and_token_counts_on_datasheet_text(settings) -> None:
    texts = datasheet_texts()
    assert settings.EMBEDDING_BACKEND == "onnx"
    counts = count_tokens(texts)
    assert max(counts) > 256 and min(counts) < 10, "needs texts beyond the limit and short ones"
    onnx = embed_texts(texts, batch_size=16)
    with one_thread():
        onnx_one_thread = embed_texts(texts[:12])
    assert onnx_encoder().session.get_session_options().intra_op_num_threads == 1

    settings.EMBEDDING_BACKEND = "torch"
    torch = embed_texts(texts, batch_size=16)
    assert count_tokens(texts) == counts

    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(onnx * torch, axis=1)
    assert cosine.min() >= 0.9999, texts[int(cosine.argmin())][:200]
    np.testing.assert_allclose(onnx_one_thread, onnx[:12], atol=1e-5)
    # Truncation cuts the same word pieces as sentence-transformers does.
    expected = get_model().preprocess(texts)
    for row, text in enumerate(texts):
        mask = expected["attention_mask"][row].bool()
        assert onnx_encoder().token_ids(text) == expected["input_ids"][row][mask].tolist()


def test_the_torch_backend_is_sentence_transformers_encode_as_before(settings) -> None:
    settings.EMBEDDING_BACKEND = "torch"
    vectors = embed_texts(PROBE_TEXTS)
    expected = get_model().encode(PROBE_TEXTS, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    assert np.array_equal(vectors, expected)
    with one_thread():
        import torch

        assert torch.get_num_threads() == 1


@dataclass
class Child:
    vectors: np.ndarray
    folder: str
    loaded: dict[str, bool]
    exported: int  # exports this process made, from its log


def _start(data_dir: Path, **env: str) -> subprocess.Popen:
    child_env = {
        **{k: v for k, v in os.environ.items() if k not in ("VOLTAI_TEST_CLOCK_FILE", "EMBEDDING_MODEL")},
        "DJANGO_SETTINGS_MODULE": "voltai_server.settings",
        "VOLTAI_DATA_DIR": str(data_dir),
        "DATABASE_URL": "postgresql://unused@127.0.0.1:1/unused",  # parsed, never connected to
        "SECRET_KEY": "test",
        "LOG_LEVEL": "INFO",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(PROBE_TEXTS)],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> Child:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-4000:]
    data = json.loads(out.strip().splitlines()[-1])
    return Child(
        vectors=np.asarray(data["vectors"]),
        folder=data["folder"],
        loaded=data["loaded"],
        exported=err.count("embedding model exported to ONNX in"),
    )


def _exports(data_dir: Path) -> list[str]:
    return sorted(path.name for path in (data_dir / "embeddings-onnx").iterdir() if path.is_dir())


@pytest.fixture(scope="module")
def started_together(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Child]]:
    """Three processes started at once on an empty export cache."""
    data_dir = tmp_path_factory.mktemp("onnx-cache")
    processes = [_start(data_dir) for _ in range(3)]
    return data_dir, [_finish(process) for process in processes]


def test_processes_that_start_together_make_one_export_and_share_it(started_together) -> None:
    data_dir, children = started_together
    assert sum(child.exported for child in children) == 1
    assert len(_exports(data_dir)) == 1  # and no temporary folder left behind
    assert {child.folder for child in children} == {str(data_dir / "embeddings-onnx" / _exports(data_dir)[0])}
    for child in children:
        np.testing.assert_allclose(child.vectors, children[0].vectors, atol=1e-6)
        # Only the process that exported imported torch.
        assert child.loaded["torch"] == bool(child.exported)


def test_a_process_that_finds_the_export_imports_neither_torch_nor_transformers(started_together) -> None:
    data_dir, children = started_together
    child = _finish(_start(data_dir))
    assert child.exported == 0
    assert child.loaded == {"torch": False, "sentence_transformers": False, "transformers": False}
    np.testing.assert_allclose(child.vectors, children[0].vectors, atol=1e-6)


def test_the_export_is_made_again_when_the_exporter_or_the_model_changes(started_together, tmp_path: Path) -> None:
    data_dir, children = started_together
    first = children[0].folder

    new_exporter = _finish(_start(data_dir, TEST_EXPORT_FORMAT_VERSION="999"))
    assert new_exporter.exported == 1
    assert new_exporter.folder != first
    np.testing.assert_allclose(new_exporter.vectors, children[0].vectors, atol=1e-5)

    # The same weights, read to 128 word pieces instead of 256: another model to the cache.
    model = tmp_path / "model"
    shutil.copytree(model_path(), model)
    config = json.loads((model / "sentence_bert_config.json").read_text())
    (model / "sentence_bert_config.json").write_text(json.dumps({**config, "max_seq_length": 128}))
    new_model = _finish(_start(data_dir, EMBEDDING_MODEL=str(model)))
    assert new_model.exported == 1
    assert new_model.folder not in (first, new_exporter.folder)
    np.testing.assert_allclose(new_model.vectors[:2], children[0].vectors[:2], atol=1e-5)
    assert float(new_model.vectors[2] @ children[0].vectors[2]) < 0.9999  # the long text is cut shorter

    unchanged = _finish(_start(data_dir))
    assert (unchanged.exported, unchanged.folder) == (0, first)
    assert len(_exports(data_dir)) == 3
