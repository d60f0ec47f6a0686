"""The .tflite reader checks the flatbuffer before use: each kind of corruption is one
InputFileError/ModelError naming the file and what is wrong (exit 2), never a hang or exit 70."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tflite

from edgekit.errors import EdgekitError
from edgekit.model.reference import measure_tflm_arena, tflm_available
from edgekit.model.tflite_graph import load_graph
from tests.conftest import assert_clean_error


def _field(obj, vt_offset: int) -> int:
    """Absolute position of a scalar field of a flatbuffer table."""
    o = obj._tab.Offset(vt_offset)
    assert o, "field not present"
    return obj._tab.Pos + o


def _vector(obj, vt_offset: int) -> int:
    """Absolute position of the first element of a vector field."""
    return obj._tab.Vector(obj._tab.Offset(vt_offset))


def _patch(buf: bytearray, pos: int, value: int) -> None:
    buf[pos:pos + 4] = struct.pack("<i", value)


def _sine_parts(buf: bytes):
    model = tflite.Model.GetRootAs(buf, 0)
    sg = model.Subgraphs(0)
    return model, sg


def _weight_tensor(sg) -> int:
    """Index of the first FULLY_CONNECTED weight tensor (input 1 of op 0)."""
    return int(sg.Operators(0).InputsAsNumpy()[1])


CORRUPTIONS: dict[str, tuple[Callable[[bytearray], None], str]] = {
    "buffer index": (lambda b: _patch(b, _field(_sine_parts(b)[1].Tensors(0), 8), 999),
                     "uses buffer 999"),
    "negative dimension": (lambda b: _patch(b, _vector(_sine_parts(b)[1].Tensors(0), 4), -7),
                           "impossible shape"),
    "huge dimension": (lambda b: _patch(b, _vector(_sine_parts(b)[1].Tensors(0), 4), 0x7FFFFFFF),
                       "impossible shape"),
    "weight size": (lambda b: _patch(b, _vector(_sine_parts(b)[1].Tensors(_weight_tensor(_sine_parts(b)[1])), 4),
                                     3), "bytes, its buffer"),
    "op code index": (lambda b: _patch(b, _vector(_sine_parts(b)[0], 6) - 4, 0),  # no operator codes
                      "uses operator code 0, the model has 0"),
    "unknown op": (lambda b: _patch(b, _field(_sine_parts(b)[0].OperatorCodes(0), 10), 4321),
                   "builtin op 4321, not an op edgekit knows"),
    "op tensor index": (lambda b: _patch(b, _vector(_sine_parts(b)[1].Operators(0), 6), 5000),
                        "uses tensor 5000"),
    "graph input index": (lambda b: _patch(b, _vector(_sine_parts(b)[1], 6), -3),
                          "graph input tensor -3 does not exist"),
    "tensor count": (lambda b: _patch(b, _sine_parts(b)[1]._tab.Vector(_sine_parts(b)[1]._tab.Offset(4)) - 4,
                                      0x3FFFFFFF), "tensors in a"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_each_corruption_is_named(benchmark_model, tmp_path: Path, kind: str) -> None:
    buf = bytearray(benchmark_model("sine").read_bytes())
    corrupt, expected = CORRUPTIONS[kind]
    corrupt(buf)
    path = tmp_path / "bad.tflite"
    path.write_bytes(bytes(buf))
    with pytest.raises(EdgekitError) as info:
        load_graph(path)
    assert info.value.exit_code == 2
    assert str(path) in str(info.value) and expected in str(info.value), str(info.value)


@pytest.mark.timeout(120)
def test_negative_dimension_does_not_hang_inspect(cli, benchmark_model, tmp_path: Path) -> None:
    """A negative activation size once made the TFLM arena search double a negative number for ever."""
    buf = bytearray(benchmark_model("ds_cnn_kws").read_bytes())
    pattern = np.array([1, 25, 5, 64], dtype="<i4").tobytes()  # an activation shape
    at = buf.find(pattern)
    assert at > 0
    _patch(buf, at + 4, -100000)
    path = tmp_path / "negative.tflite"
    path.write_bytes(bytes(buf))
    assert_clean_error(cli("inspect", path, timeout=100), 2, str(path), "impossible shape (1, -100000, 5, 64)")


@pytest.mark.timeout(300)
@pytest.mark.skipif(not tflm_available(), reason="tflite_micro not installed")
def test_arena_search_is_bounded(benchmark_model, monkeypatch) -> None:
    """Even given a graph whose sizes make no sense, the search ends: a bounded number of probes."""
    from edgekit.model import reference

    path = benchmark_model("sine")
    graph = load_graph(path)
    calls: list[int] = []
    monkeypatch.setattr(reference, "_ARENAS", {})   # nothing measured before in this process
    monkeypatch.setattr(reference, "_arena_ok", lambda p, size: calls.append(size) or False)
    assert measure_tflm_arena(path.read_bytes(), graph, limit=1 << 20) is None
    assert 0 < len(calls) <= reference.MAX_ARENA_PROBES and all(c > 0 for c in calls)
    calls.clear()
    monkeypatch.setattr(reference, "_arena_ok", lambda p, size: calls.append(size) or size >= 5000)
    assert measure_tflm_arena(path.read_bytes(), graph) == 5008
    assert len(calls) <= reference.MAX_ARENA_PROBES
    calls.clear()
    assert measure_tflm_arena(path.read_bytes(), graph) == 5008 and calls == []   # once per model
