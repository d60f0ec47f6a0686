"""The child process that converts a Keras model to int8 TFLite (see quantize.convert_in_child).

TensorFlow's converter and calibrator run native code that can crash the whole process (a
segfault on a recurrent WHILE loop, for one): running them here keeps edgekit alive to say
what failed. A model with Embedding, LSTM, GRU or Bidirectional layers is first rewritten into
its conversion twin (edgekit.model.recurrent), one with UpSampling1D/2D (nearest),
RepeatVector or ELU(alpha != 1) layers into forms TFLM runs (edgekit.model.layer_twin), and
LayerNormalization, RMSNormalization and UnitNormalization (at any depth) compute in a form
with no float op while it converts (edgekit.model.norm_twin), and attention masks its logits
with a value int8 can hold (edgekit.model.mask_twin), each checked against Keras in float.

    python -m edgekit.model.convert_worker MODEL.keras CALIB.npz OUT.tflite RESULT.json WHERE ACTIVATIONS [decode]

CALIB.npz holds one array per model input (arr_0, arr_1... in the model's input order);
ACTIVATIONS is int8 or int16 (16x8). With `decode`, MODEL is a causal LM and CALIB its token
sequences: what converts is its decode step (edgekit.model.decode), calibrated on steps of them.

Exit 0 with OUT.tflite written, or exit 2 with RESULT.json holding the error
({"error": class name, "message": ..., "hint": ...}).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DECODE_STEPS = 1000  # calibration steps drawn from a causal LM's sequences


def main(argv: list[str]) -> int:
    """Convert argv's model with argv's calibration data; see the module docstring."""
    model_path, calib_path, out_path, result_path = (Path(a) for a in argv[:4])
    where, activations = argv[4], argv[5]  # where names the model in error messages
    stepped = argv[6:] == ["decode"]
    try:
        import numpy as np

        from edgekit.errors import EdgekitError
        from edgekit.model import decode, mask_twin, norm_twin
        from edgekit.model.keras_io import load_keras_model
        from edgekit.model.quantize import convert_int8

        try:
            model = load_keras_model(model_path)
            with np.load(calib_path, allow_pickle=False) as npz:
                arrays = [npz[f"arr_{k}"] for k in range(len(npz.files))]
            # while the model converts, the normalizations compute in a form with no float op and
            # attention masks with a logit int8 can hold
            with norm_twin.integer_norms(model, arrays, where), mask_twin.moderate_masks(model, arrays, where):
                if stepped:  # the step shares the model's layers: the twins above apply to it too
                    step = decode.decode_step_model(model)
                    tflite = convert_int8(step, decode.step_calibration(step, arrays[0], DECODE_STEPS),
                                          where=where, activations=activations)
                else:
                    tflite = _convert(model, arrays, where, activations)
        except EdgekitError as exc:
            result = {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint}
            result_path.write_text(json.dumps(result))
            return 2
        out_path.write_bytes(tflite)
        return 0
    except Exception as exc:  # anything else: the parent reports it as a converter failure
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        result_path.write_text(json.dumps({"error": "", "message": f"{type(exc).__name__}: {text}"}))
        return 2


def _convert(model: Any, arrays: list[Any], where: str, activations: str) -> bytes:
    """A model with a float input per array: through the twins it needs, then the converter."""
    from edgekit.errors import ModelError
    from edgekit.model import layer_twin, recurrent
    from edgekit.model.quantize import convert_int8

    if len(arrays) > 1 and recurrent.needs_twin(model):
        raise ModelError(f"{where} has several inputs and layers edgekit converts through a "
                         "twin (Embedding, LSTM, GRU); it converts those in single-input models "
                         "only so far",
                         hint="split the model, or give it one input")
    input_dtype = "float32"
    if layer_twin.needs_twin(model):  # UpSampling, RepeatVector, ELU(alpha)
        model = layer_twin.build_twin(model, arrays, where)
    if recurrent.needs_twin(model):  # Embedding/LSTM/GRU: convert an int8-friendly twin
        twin = recurrent.build_twin(model, where)
        recurrent.check_twin(model, twin, arrays[0], where)
        model, input_dtype = twin.model, twin.input_dtype
    calibration = arrays[0] if len(arrays) == 1 else arrays
    return convert_int8(model, calibration, where=where, input_dtype=input_dtype, activations=activations)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
