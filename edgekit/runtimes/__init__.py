"""Inference runtimes as objects, one module each (edgekit_rt.py, tflm/), behind one contract
(base.py) and one registry (registry.py); the fit of a model on a board (fit.py) and the
`edgekit inspect` report built from them (inspect.py).

This module holds only the runtimes' names, so that the code generator and the model layer
can name a runtime without importing the runtimes (which import them).
"""

EDGEKIT_RT = "edgekit-rt"
TFLM = "tflm"
AUTO = "auto"   # not a runtime: the first registered runtime that runs the model on the board

__all__ = ["AUTO", "EDGEKIT_RT", "TFLM"]
