"""Model inputs and outputs of type int32 (token ids), uint8 and int16 go end to end: the
generated header, the firmware's INFO reply (dtype codes, sizes in bytes), INFER through the
real firmware on the virtual board, and `edgekit hil` exact with the host TFLM reference.

The models come from TensorFlow's converter here: an int32 token-id GATHER model (on
edgekit-rt) and a dense model with uint8 input and output (inference_input_type and
inference_output_type: a QUANTIZE uint8 -> int8 at the input, int8 -> uint8 at the output),
on the default runtime (auto picks edgekit-rt) and on tflm."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest

from edgekit.boards import load_board
from edgekit.errors import DeviceError
from edgekit.hil import protocol as P
from edgekit.hil.board_link import open_session
from edgekit.model.reference import int8_interpreter
from edgekit.model.tensor_data import model_input
from edgekit.project.manifest import open_project
from tests.conftest import assert_clean_error

BOARD = "qemu-netduinoplus2"
#: name -> (input dtype, output dtype, input bytes, output bytes, runtime in the header)
#: (int16 I/O of a 16x8 model goes the same way, on either runtime: tests/codegen/test_ekrt_int16_qemu.py.)
MODELS = {"ids": ("int32", "int8", 8 * 4, 5, "edgekit-rt"),
          "u8": ("uint8", "uint8", 6, 4, "edgekit-rt"),
          "u8_tflm": ("uint8", "uint8", 6, 4, "tflm")}


def _convert(name: str, out: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    if name == "ids":
        table = tf.constant(rng.normal(size=(20, 4)).astype(np.float32))
        w = tf.constant(rng.normal(size=(32, 5)).astype(np.float32) * 0.3)

        @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.int32)])
        def fn(ids):
            return tf.matmul(tf.reshape(tf.gather(table, ids), [1, 32]), w)

        def rep():
            for _ in range(30):
                yield [rng.integers(0, 20, size=(1, 8)).astype(np.int32)]
    else:
        w2 = tf.constant(rng.normal(size=(6, 4)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 6], tf.float32)])
        def fn(x):
            return tf.nn.relu(tf.matmul(x, w2))

        def rep():
            for _ in range(30):
                yield [rng.normal(size=(1, 6)).astype(np.float32)]
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_output_type = {"ids": tf.int8, "u8": tf.uint8}[name]
    if name != "ids":
        conv.inference_input_type = conv.inference_output_type
    out.write_bytes(conv.convert())


@pytest.fixture(scope="module")
def built(cli, tflm_tree, tmp_path_factory):
    """built(name): a built project of that model (ids: edgekit-rt, which runs int32 token ids
    through GATHER; u8: the default runtime, auto -> edgekit-rt; u8_tflm: the same model on
    tflm) and its test data .npz."""
    root = tmp_path_factory.mktemp("io_dtypes")
    rng = np.random.default_rng(1)
    np.savez(root / "ids.npz", x_test=rng.integers(0, 20, size=(12, 8)).astype(np.int32))
    np.savez(root / "f.npz", x_test=rng.normal(size=(12, 6)).astype(np.float32))
    done: dict[str, tuple[Path, Path]] = {}

    def get(name: str) -> tuple[Path, Path]:
        if name not in done:
            runtime = {"ids": ["--runtime", "edgekit-rt"], "u8": [],
                       "u8_tflm": ["--runtime", "tflm", "--tflm-dir", str(tflm_tree("ref"))]}[name]
            model = root / f"{name.removesuffix('_tflm')}.tflite"
            if not model.exists():
                _convert(model.stem, model)
            project = root / f"fw_{name}"
            r = cli("generate", model, "--board", BOARD, *runtime, "-o", project)
            assert r.returncode == 0, r.stderr
            r = cli("build", project)
            assert r.returncode == 0, r.stderr
            done[name] = (project, root / ("ids.npz" if name == "ids" else "f.npz"))
        return done[name]

    return get


@pytest.mark.tf
@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("name", list(MODELS))
def test_io_dtype_through_the_firmware(cli, built, name: str) -> None:
    project_dir, data = built(name)
    in_dt, out_dt, in_bytes, out_bytes, runtime = MODELS[name]
    header = (project_dir / "src" / "edgekit_model.h").read_text()
    assert f"_INPUT_BYTES {in_bytes}\n" in header and f"_OUTPUT_BYTES {out_bytes}\n" in header
    assert f'_RUNTIME "{runtime}"' in header

    project = open_project(project_dir)
    graph = project.graph
    x = np.load(data)["x_test"]
    xq = model_input(x, graph.input_tensors[0])
    assert xq.dtype == np.dtype(in_dt)
    if name == "ids":
        assert np.array_equal(xq, x)   # token ids are sent as they are, never quantized
    host = int8_interpreter(project.model_path.read_bytes(), graph).run(xq)
    with ExitStack() as stack:
        session, _ = open_session(stack, load_board(BOARD), port=None, project=project)
        info = session.connect()
        assert (info.input_dtype, info.output_dtype) == (in_dt, out_dt)
        assert (info.input_bytes, info.output_bytes) == (in_bytes, out_bytes)
        for i in range(4):
            out, _cycles = session.infer(xq[i])
            assert out.dtype == np.dtype(out_dt)
            assert np.array_equal(out.reshape(-1), host[i].reshape(-1))
        if name == "ids":  # live inference fills an int8 window: the firmware refuses it
            with pytest.raises(DeviceError, match="BAD_ARG"):
                session.request(P.Msg.STREAM_START, P.stream_start_request(0, 50, infer=True))

    r = cli("hil", project_dir, "--data", data, "--runs", "3", "--require-exact")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((project_dir / "hil-report" / "report.json").read_text())
    assert report["agreement"]["exact_share"] == 1.0 and report["samples_measured"] == 12
    if name == "ids":  # and the host says so before asking
        r = cli("stream", "--board", BOARD, "--project", project_dir, "--sensor", "vibration", "--rate", "50",
                "--seconds", "1", "-o", project_dir / "s.csv", "--infer", "--input-per-unit", "1")
        assert_clean_error(r, 2, "live inference feeds int8 sensor windows; this model's input is int32")


@pytest.mark.tf
@pytest.mark.toolchain
@pytest.mark.qemu
def test_inspect_says_edgekit_rt_runs_the_uint8_model(cli, built) -> None:
    """`edgekit inspect` plans the uint8-in/uint8-out model on edgekit-rt, the runtime auto picks."""
    project_dir, _ = built("u8")
    r = cli("inspect", project_dir.parent / "u8.tflite", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["runtime"] == "edgekit-rt"
    assert "unsupported" not in report["edgekit_rt"] and report["edgekit_rt"]["ops"] == [
        "QUANTIZE", "FULLY_CONNECTED"]


def test_io_type_table_and_host_conversion() -> None:
    """The one table (edgekit/model/iotypes.py) behind INFO's dtype codes, and what the host sends."""
    from edgekit.errors import DataError
    from edgekit.hil.session import _input_bytes
    from edgekit.model.iotypes import IO_TYPES

    assert P.DTYPES == {1: "int8", 2: "uint8", 3: "int16", 4: "float32", 5: "int32"}
    assert {t.name: t.ctype for t in IO_TYPES.values()}["int32"] == "int32_t"

    def info(dtype: str, n: int) -> P.DeviceInfo:
        return P.DeviceInfo(2, True, 256, 1, 0, n * IO_TYPES[dtype].itemsize, 1, dtype, "int8", (1, n), (1, 1),
                            1.0, 0, 1.0, 0, "b", "v", "r", "0" * 64)

    ids = _input_bytes(np.array([1, 70000]), info("int32", 2))   # sent as they are, little-endian
    assert ids == (1).to_bytes(4, "little") + (70000).to_bytes(4, "little")
    assert _input_bytes(np.array([255, 0]), info("uint8", 2)) == b"\xff\x00"
    with pytest.raises(DataError, match="outside the uint8 range 0..255"):
        _input_bytes(np.array([-1, 0]), info("uint8", 2))
    with pytest.raises(DataError, match="model input must be int32"):
        _input_bytes(np.array([0.5, 1.0]), info("int32", 2))
    with pytest.raises(DataError, match="has 4 bytes but the model on the device takes 8"):
        _input_bytes(np.array([1], dtype=np.int32), info("int32", 2))
