"""A TFLM tree is checked against the model's ops when the project is generated (and again
at build): an op its resolver does not know, or a kernel source file missing, is exit 4 naming
it, instead of a linker error minutes into the build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgekit.errors import MissingToolError
from edgekit.runtimes.tflm.tree import check_tree_ops, find_tree, tree_kernels
from tests.conftest import assert_clean_error, find_tflm_tree, run_cli

BOARD = "qemu-netduinoplus2"
MICRO = Path("tensorflow/lite/micro")
def _tree(root: Path, ops: list[str], *, without: str = "") -> Path:
    """A small tree with the shape of create_tflm_tree.py's: the interpreter, a resolver header
    registering `ops`, each kernel declared in kernels/<op>.h and defined in kernels/<op>.cc,
    except that the .cc of `without` is missing."""
    kernels = root / MICRO / "kernels"
    kernels.mkdir(parents=True)
    (root / MICRO / "micro_interpreter.cc").write_text("// interpreter\n")
    methods = "".join(f"""
  TfLiteStatus Add{op.title().replace("_", "")}(
      const TFLMRegistration& registration = Register_{op}()) {{
    return AddBuiltin(BuiltinOperator_{op}, registration, Parse{op.title()});
  }}
""" for op in ops)
    header = f"class MicroMutableOpResolver {{\n public:{methods}}};\n"
    (root / MICRO / "micro_mutable_op_resolver.h").write_text(header)
    for op in ops:
        (kernels / f"{op.lower()}.h").write_text(f"TFLMRegistration Register_{op}();\n")
        if op != without:
            (kernels / f"{op.lower()}.cc").write_text(f"TFLMRegistration Register_{op}() {{\n  return {{}};\n}}\n")
    return root


def test_a_complete_tree_passes_and_an_unknown_op_is_named(tmp_path: Path) -> None:
    tree = find_tree(_tree(tmp_path / "t", ["CONV_2D", "FULLY_CONNECTED"]))
    kernels = tree_kernels(tree.root)
    assert kernels.methods["CONV_2D"] == ("AddConv2D", ("CONV_2D",))
    assert {"CONV_2D", "FULLY_CONNECTED"} <= set(kernels.defined)
    check_tree_ops(tree, ["CONV_2D", "FULLY_CONNECTED"])
    with pytest.raises(MissingToolError, match="has no kernel for TILE"):
        check_tree_ops(tree, ["CONV_2D", "TILE"])


def test_generate_names_the_missing_kernel_file(benchmark_model, tmp_path: Path) -> None:
    """ds_cnn_kws needs CONV_2D: a tree without kernels/conv.cc is exit 4 at generate, naming the
    file, and no project is written."""
    from edgekit.model.tflite_graph import load_graph

    model = benchmark_model("ds_cnn_kws")
    tree = _tree(tmp_path / "broken", load_graph(model).op_names(), without="CONV_2D")
    out = tmp_path / "fw"
    r = run_cli("generate", model, "--board", BOARD, "--runtime", "tflm",
                "--tflm-dir", tree, "-o", out)
    assert_clean_error(r, 4, "missing the kernel source of CONV_2D", "tensorflow/lite/micro/kernels/conv_2d.cc",
                       "create_tflm_tree.py")
    assert not out.exists()


@pytest.mark.tflm
def test_real_trees_have_every_kernel_the_benchmark_models_need(tmp_path: Path) -> None:
    """The trees made by create_tflm_tree.py (reference and CMSIS-NN kernels) pass; the same tree
    with conv.cc removed is refused naming it."""
    from edgekit.model.tflite_graph import load_graph
    from tests.conftest import FIXTURE_MODELS

    ops = sorted({op for m in ("sine", "ds_cnn_kws", "ad_autoencoder")
                  for op in load_graph(FIXTURE_MODELS / f"{m}.tflite").op_names()})
    for kind in ("ref", "cmsis_nn"):
        root = find_tflm_tree(kind)
        if root is None:
            pytest.skip(f"no {kind} TFLM tree")
        check_tree_ops(find_tree(root), ops)
        # TFLM's own custom ops too: the signal library's, defined in signal/micro/kernels.
        kernels = tree_kernels(root)
        assert kernels.methods["CUSTOM:SignalRfft"] == ("AddRfft", ("RFFT",))
        assert kernels.defined["WINDOW"] == "signal/micro/kernels/window.cc"
    ref = find_tflm_tree("ref")
    assert ref is not None
    broken = tmp_path / "ref"
    shutil.copytree(ref / MICRO, broken / MICRO)
    (broken / MICRO / "kernels" / "conv.cc").unlink()
    with pytest.raises(MissingToolError, match=r"CONV_2D \(tensorflow/lite/micro/kernels/conv.cc\)"):
        check_tree_ops(find_tree(broken), ops)
