"""`edgekit inspect` on the benchmark models (edgekit.model.zoo): structure, MACs, arena, fit per board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit.model.tflite_graph import load_graph
from tests.conftest import assert_clean_error


def test_inspect_ds_cnn_kws(cli, benchmark_model) -> None:
    r = cli("inspect", benchmark_model("ds_cnn_kws"), "--board", "qemu-netduinoplus2",
            "--board", "nucleo-f446re", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["inputs"][0]["shape"] == [1, 49, 10, 1] and rep["inputs"][0]["dtype"] == "int8"
    assert rep["outputs"][0]["shape"] == [1, 12]
    ops = [layer["op"] for layer in rep["layers"]]
    assert ops[0] == "CONV_2D" and ops[-1] == "SOFTMAX" and "DEPTHWISE_CONV_2D" in ops
    # First conv: 10x4 kernel, 1 -> 64 channels, stride 2 to 25x5: 25*5*64 outputs x 40 MACs.
    assert rep["layers"][0]["macs"] == 25 * 5 * 64 * 10 * 4
    assert rep["weight_bytes"] == 24_368  # weights + biases; TFLM figures: benchmarks/bench_edgekit_rt.py
    # TFLM needed 22,784 bytes on the Cortex-M4F; the 64-bit host measurement must cover it.
    assert rep["tflm_arena_host"] >= 22_784 and rep["tflm_arena_device"] > rep["tflm_arena_host"]
    assert [(f["board"], f["runtime"]) for f in rep["fits"]] == [
        ("qemu-netduinoplus2", "edgekit-rt"), ("qemu-netduinoplus2", "tflm"),
        ("nucleo-f446re", "edgekit-rt"), ("nucleo-f446re", "tflm")]
    assert all(f["fits"] for f in rep["fits"])
    # edgekit-rt plans below TFLM's arena and below the no-in-place lower bound (16,000 B).
    rt = rep["edgekit_rt"]
    assert rt["arena_bytes"] < 0.7 * 22_784 and rt["lower_bound_bytes"] == 16_000


def test_inspect_table_output(cli, benchmark_model) -> None:
    r = cli("inspect", benchmark_model("sine"), "--board", "qemu-netduinoplus2")
    assert r.returncode == 0, r.stderr
    for text in ("FULLY_CONNECTED", "TFLM arena", "64-bit host", "qemu-netduinoplus2", "yes"):
        assert text in r.stdout
    assert "edgekit-rt (auto)" in r.stdout  # the fit `--runtime auto` would use is marked


def test_model_too_big_for_a_board(cli, benchmark_model, tmp_path: Path) -> None:
    from tests.test_boards import GOOD

    tiny = GOOD.replace('id = "qemu-netduinoplus2"', 'id = "tiny"').replace("size = 0x10_0000", "size = 0x1_0000")
    (tmp_path / "tiny.toml").write_text(tiny)
    r = cli("inspect", benchmark_model("ad_autoencoder"), "--boards-dir", tmp_path, "--board", "tiny", "--json")
    assert r.returncode == 0, r.stderr
    fit = json.loads(r.stdout)["fits"][0]
    assert fit["flash_needed"] > fit["flash_size"] and fit["fits"] is False


def test_graph_reader_reads_quantization(benchmark_model) -> None:
    g = load_graph(benchmark_model("ds_cnn_kws"))
    conv = g.operators[0]
    assert conv.options["stride_h"] == 2 and conv.options["padding"] == "SAME"
    assert conv.options["fused_activation_function"] == "RELU"
    weights = g.tensors[conv.inputs[1]]
    assert weights.dtype == "int8" and weights.quant.per_channel and weights.quant.scale.size == 64
    assert g.tensors[conv.inputs[2]].dtype == "int32"


def test_inspect_not_a_model(cli, tmp_path: Path) -> None:
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"\x00" * 64)
    assert_clean_error(cli("inspect", bad), 2, "not a TFLite flatbuffer", str(bad))


@pytest.mark.parametrize("magic", [b"PK\x03\x04", b"\x89HDF\r\n\x1a\n"], ids=["keras-zip", "h5"])
def test_a_keras_model_where_tflite_is_needed_says_quantize_first(cli, tmp_path: Path, magic: bytes) -> None:
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(magic + b"\x00" * 64)
    for args in (("inspect", keras_file), ("generate", keras_file, "--board", "qemu-netduinoplus2",
                                            "-o", tmp_path / "p")):
        assert_clean_error(cli(*args), 2, "is a Keras model, not an int8 .tflite", "edgekit quantize")
    assert not (tmp_path / "p").exists()
    assert_clean_error(cli("inspect", tmp_path / "none.tflite"), 2, "model file not found")


def test_inspect_truncated_model(cli, benchmark_model, tmp_path: Path) -> None:
    data = benchmark_model("sine").read_bytes()
    bad = tmp_path / "trunc.tflite"
    bad.write_bytes(data[:200])
    assert_clean_error(cli("inspect", bad), 2, "corrupt or truncated", str(bad))


def test_unknown_board(cli, benchmark_model) -> None:
    assert_clean_error(cli("inspect", benchmark_model("sine"), "--board", "uno"), 2, "unknown board 'uno'")


@pytest.mark.tf
def test_float_model_gets_no_fit_it_could_not_have(cli, tmp_path: Path) -> None:
    """A float .tflite: generate refuses it, so inspect shows no fit and says why; the float
    tensors show '-' for scale and zero point, never 'None'."""
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    r = cli("inspect", path, "--board", "nucleo-f446re", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["fits"] == [] and "float32, not int8" in rep["not_deployable"]
    r = cli("inspect", path, "--board", "nucleo-f446re")
    assert r.returncode == 0 and "None" not in r.stdout and "cannot be generated" in r.stdout
    assert "fit per board" not in r.stdout


def test_lstm_macs_count_every_gate_of_every_step() -> None:
    from edgekit.model.inspect import layers

    # TFLM's MNIST LSTM: 28 steps of 28 features into 20 units, then a 560 -> 10 FC.
    graph = load_graph(Path(__file__).parent / "fixtures" / "tflm_lstm" / "trained_lstm_int8.tflite")
    macs = {layer.op: layer.macs for layer in layers(graph)}
    assert macs["UNIDIRECTIONAL_SEQUENCE_LSTM"] == 28 * 20 * 4 * (28 + 20)
    assert macs["FULLY_CONNECTED"] == 560 * 10


def test_the_fit_counts_edgekit_rt_recurrent_state_outside_the_arena(cli) -> None:
    from edgekit.runtimes.fit import FIRMWARE_RAM_BYTES, STACK_BYTES

    path = Path(__file__).parent / "fixtures" / "tflm_lstm" / "trained_lstm_int8.tflite"
    r = cli("inspect", path, "--board", "nucleo-f446re", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    rt = rep["edgekit_rt"]
    assert rt["state_bytes"] == 20 + 2 * 20          # 20 units: int8 hidden, int16 cell state
    graph = load_graph(path)
    io = graph.input_tensors[0].nbytes + graph.output_tensors[0].nbytes
    fit = next(f for f in rep["fits"] if f["runtime"] == "edgekit-rt")
    assert fit["ram_needed"] == rt["arena_bytes"] + rt["state_bytes"] + STACK_BYTES + FIRMWARE_RAM_BYTES + io
    r = cli("inspect", path)
    assert "state: recurrent, KV cache (static, outside the arena)" in r.stdout
