"""`manage.py prepare_embeddings`: what `make run` calls before serving."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command


@pytest.mark.slow
def test_it_leaves_the_onnx_export_ready_and_says_where() -> None:
    out = StringIO()
    call_command("prepare_embeddings", stdout=out)
    line = out.getvalue().strip()
    assert line.startswith("embedding model on ONNX Runtime: ")
    model_file = Path(line.removeprefix("embedding model on ONNX Runtime: ").rsplit(" (", 1)[0])
    assert model_file.name == "model.onnx" and model_file.exists()
    assert (model_file.parent / "export.json").exists()


def test_on_the_torch_backend_there_is_nothing_to_prepare(settings) -> None:
    settings.EMBEDDING_BACKEND = "torch"
    out = StringIO()
    call_command("prepare_embeddings", stdout=out)
    assert "on torch" in out.getvalue() and "nothing to prepare" in out.getvalue()
