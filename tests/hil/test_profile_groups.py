"""A profile of a graph of many small ops (an unrolled recurrent layer) is summed per op type and
per Keras layer, so the costly layer shows; the per-op table lists the costliest ops only."""

from __future__ import annotations

from edgekit.console import _console
from edgekit.hil.profile import LayerProfile, OpCost, keras_layer
from edgekit.hil.profile_report import MAX_OP_ROWS, profile_markdown, profile_tables


def _gru_like() -> LayerProfile:
    """800 small ops of one 'gru' layer (FULLY_CONNECTED, LOGISTIC, MUL, ADD in turn), then a dense head."""
    kinds = ["FULLY_CONNECTED", "LOGISTIC", "MUL", "ADD"]
    ops = [OpCost(i, kinds[i % 4], 64 if i % 4 == 0 else 0, 100 + i % 7, "gru") for i in range(800)]
    ops += [OpCost(800, "FULLY_CONNECTED", 640, 900, "dense"), OpCost(801, "SOFTMAX", 0, 300, "")]
    return LayerProfile("edgekit-rt", "instructions", tuple(ops), sum(o.cycles for o in ops) + 50)


def test_layer_names_come_from_tensor_names() -> None:
    assert keras_layer("functional_1/gru_twin/MatMul;functional_1/gru_twin/BiasAdd") == "gru_twin"
    assert keras_layer("serving_default_input:0") == ""
    assert keras_layer("StatefulPartitionedCall:0") == ""


def test_many_small_ops_are_grouped_by_type_and_layer() -> None:
    p = _gru_like()
    by_layer = p.groups("layer")
    assert [g.name for g in by_layer] == ["gru", "dense", "?"]
    assert by_layer[0].ops == 800 and p.share(by_layer[0]) > 0.95
    by_op = p.groups("op")
    assert {g.name: g.ops for g in by_op} == {"FULLY_CONNECTED": 201, "LOGISTIC": 200, "MUL": 200, "ADD": 200,
                                              "SOFTMAX": 1}
    assert sum(g.cycles for g in by_op) == p.total
    d = p.to_dict()
    assert d["by_layer"][0]["name"] == "gru" and d["by_op"][0]["count"] == by_op[0].cycles

    tables = profile_tables(p)
    assert [t.title.split(" (")[0] for t in tables] == ["profile by op type", "profile by Keras layer",
                                                        "per-op profile"]
    assert tables[-1].row_count == MAX_OP_ROWS and f"the {MAX_OP_ROWS} costliest of 802 ops" in str(tables[-1].caption)
    md = "\n".join(profile_markdown(p))
    assert "By Keras layer:" in md and "| gru | 800 |" in md


def test_a_small_model_gets_no_redundant_groups() -> None:
    """One op per layer: no layer table; all ops listed."""
    ops = tuple(OpCost(i, op, 10, 100, f"layer{i}") for i, op in enumerate(["CONV_2D", "CONV_2D", "SOFTMAX"]))
    tables = profile_tables(LayerProfile("tflm", "cycles", ops, 400))
    assert [t.title.split(" (")[0] for t in tables] == ["profile by op type", "per-op profile"]
    assert tables[-1].row_count == 3


def test_tables_fold_instead_of_cutting_in_a_narrow_terminal() -> None:
    """At 60 columns every op name and number is whole (folded onto more lines, never '…')."""
    import io

    console = _console(stderr=False)
    console.file, console.width = io.StringIO(), 60
    for t in profile_tables(_gru_like()):
        console.print(t)
    text = console.file.getvalue()
    assert "…" not in text
    assert "FULLY_CO" in text and "NNECTED" in text   # folded onto two lines, whole
