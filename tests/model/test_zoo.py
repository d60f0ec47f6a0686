"""The benchmark zoo builds, from code, the models committed in tests/fixtures/models: the same
operators, tensors, types and quantization layout (the bytes may differ across TensorFlow
builds and CPUs; they are the same here, where they were made)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.model import zoo
from edgekit.model.tflite_graph import load_graph, parse_graph

pytestmark = pytest.mark.tf
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"


@pytest.mark.parametrize("name", ["sine", "ds_cnn_kws", "ad_autoencoder"])
def test_the_zoo_builds_the_committed_models(name: str) -> None:
    built = parse_graph(zoo.model_bytes(name))
    committed = load_graph(FIXTURES / f"{name}.tflite")
    assert built.op_names() == committed.op_names()
    assert [(t.shape, t.dtype, t.is_constant) for t in built.tensors] == \
        [(t.shape, t.dtype, t.is_constant) for t in committed.tensors]
