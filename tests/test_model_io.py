"""Several inputs and outputs on the host side: names, data arrays, I/O blocks, agreement."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.data import Dataset
from edgekit.errors import DataError
from edgekit.hil.evaluate import agreement, agreement_of
from edgekit.model.modelio import ModelIO
from edgekit.model.tensor_data import random_inputs
from edgekit.model.tflite_graph import load_graph
from tests.conftest import REPO

MODELS = REPO / "tests" / "fixtures" / "models"


def test_io_names_come_from_the_signature_else_the_tensor() -> None:
    add = load_graph(MODELS / "published" / "simple_add_model.tflite")
    assert [add.io_name(i) for i in add.inputs] == ["input_1", "input_2"]
    kws = load_graph(MODELS / "ds_cnn_kws.tflite")   # a signature of edgekit's quantize
    assert (kws.io_name(kws.inputs[0]), kws.io_name(kws.outputs[0])) == ("args_0", "output_0")
    person = load_graph(MODELS / "published" / "person_detect.tflite")   # none: the tensor's name
    assert person.io_name(person.inputs[0]) == person.tensors[person.inputs[0]].name.removeprefix("serving_default_")


def test_data_arrays_are_named_after_inputs_and_outputs() -> None:
    x1, x2 = np.zeros((4, 2)), np.ones((4, 3))
    d = Dataset(None, {"x_test_a": x1, "x_test_b": x2, "y_test": np.arange(4), "y_test_life": np.ones(4),
                       "x_train_a": x1, "x_train_b": x2})
    prefix, xs, keys = d.model_inputs("evaluation", ["a", "b"])
    assert (prefix, keys) == ("x_test", ["x_test_a", "x_test_b"]) and xs[1] is x2
    assert d.model_inputs("calibration", ["a", "b"])[0] == "x_train"
    labels = d.model_labels("x_test", ["class", "life", "other"])
    assert [k.split(":")[-1] for k, _ in labels] == ["y_test", "y_test_life", "y_test_other"]
    assert labels[0][1] is not None and labels[1][1] is not None and labels[2][1] is None
    with pytest.raises(DataError, match="no x_test_a, x_test_c arrays for the model's inputs a, c"):
        d.model_inputs("evaluation", ["a", "c"])
    single = Dataset(None, {"x_test": x1, "x_test_other": x2})
    assert single.model_inputs("evaluation", ["a"])[2] == ["x_test"]     # one input: the plain name
    with pytest.raises(DataError, match="no x_calib, x_train or x array"):
        Dataset(None, {"x_test": x1}).model_inputs("calibration", ["a"])


def test_io_blocks_pack_inputs_and_unpack_outputs_at_their_offsets() -> None:
    g = load_graph(MODELS / "published" / "simple_add_model.tflite")
    io = ModelIO.of(g)
    assert (io.input_names, io.output_names, io.input_bytes) == (["input_1", "input_2"], ["add"], 32768)
    rng = np.random.default_rng(0)
    a, b = (rng.integers(-128, 128, size=(2, *t.sample_shape)).astype(np.int8) for t in g.input_tensors)
    blocks = io.pack([a, b])
    assert blocks.shape == (2, 32768) and blocks.dtype == np.uint8
    assert blocks[1, 16384:].view(np.int8).tolist() == b[1].ravel().tolist()
    out = a[0].reshape(-1).tobytes()
    assert io.unpack(out)[0].tolist() == a[0].reshape(g.output_tensors[0].sample_shape).tolist()
    with pytest.raises(DataError, match="returned 3 output bytes"):
        io.unpack(b"abc")


def test_random_inputs_name_one_array_per_input() -> None:
    arrays, what = random_inputs(load_graph(MODELS / "published" / "simple_add_model.tflite"), 3)
    assert sorted(arrays) == ["x_input_1", "x_input_2"] and arrays["x_input_1"].shape[0] == 3
    assert "each input" in what
    arrays, _ = random_inputs(load_graph(MODELS / "sine.tflite"), 2)
    assert list(arrays) == ["x"]


def test_agreement_of_several_outputs_needs_every_output_exact() -> None:
    cls = np.array([[1, 2], [3, 4]], dtype=np.int8)
    reg = np.array([[10], [20]], dtype=np.int8)
    reg_dev = np.array([[10], [22]], dtype=np.int8)
    one = agreement_of([(cls, cls, 0.1, 0), (reg_dev, reg, 0.5, 0)])
    assert one.exact_share == 0.5 and one.mismatched_samples == [1] and one.max_abs_diff_lsb == 2
    assert one.exact_elements_share == 5 / 6 and one.unit == "LSB"
    assert agreement(cls, cls, 0.1, 0).exact_share == 1.0
    f = np.array([[0.5], [1.0]], dtype=np.float32)
    assert agreement_of([(cls, cls, 0.1, 0), (f, f, 1.0, 0)]).unit == "LSB/ULP"


def test_random_int32_inputs_are_what_their_ops_accept() -> None:
    g = load_graph(MODELS / "published" / "seanet_transpose_conv4.tflite")   # output shape as a graph input
    arrays, _ = random_inputs(g, 3)
    tconv = next(op for op in g.operators if op.op == "TRANSPOSE_CONV")
    shape_input = next(k for k in arrays if g.io_name(tconv.inputs[0]) in k)
    assert (arrays[shape_input] == np.asarray(g.tensors[tconv.outputs[0]].shape)).all()
    ids, _ = random_inputs(load_graph(MODELS / "published" / "seanet_quantize0.tflite"), 3)
    assert ids["x"].dtype.kind == "i" and np.abs(ids["x"]).max() <= 1 << 15   # integers, sent as they are


def test_the_cycle_estimates_input_fills_every_input_of_the_block() -> None:
    """A decode step's block holds its token (an id of its table) and its position (the middle of
    the context); a first-input-only block was refused by the device as too short."""
    from edgekit.hil.cycles import random_input

    graph = load_graph(REPO / "tests" / "fixtures" / "models" / "decode_step.tflite")
    io = ModelIO.of(graph)
    block = random_input(graph)
    assert len(block) == io.input_bytes == 8
    token, position = np.frombuffer(block, dtype="<i4")
    assert 0 <= token < 24 and position == 8 // 2
