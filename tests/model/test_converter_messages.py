"""The converter's MLIR error reaches the user with its reason, not cut inside the source
location that precedes it (which can run to hundreds of characters)."""

from __future__ import annotations

from edgekit.model.quantize import _first_line

LOC = ('loc(fused["Erf:", callsite("functional_1/dense_1/Gelu/Erf@__inference_serving_default_1234"'
       '("/usr/lib/python3/dist-packages/keras/src/ops/nn.py":345:0) at callsite("a"("b":1:0) at "c"))])')


def test_the_reason_survives_a_long_location() -> None:
    exc = Exception("ConverterError: failed\n"
                    f"<unknown>:0: error: {LOC}: 'tf.Erf' op is neither a custom op nor a flex op\n"
                    f"<unknown>:0: note: {LOC}: see current operation: %0 = tf.Erf")
    assert _first_line(exc) == "error: 'tf.Erf' op is neither a custom op nor a flex op"


def test_a_message_without_locations_is_unchanged() -> None:
    assert _first_line(Exception("something  went\n wrong")) == "something went"
