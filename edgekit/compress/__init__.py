"""`edgekit compress`: make a Keras model fit a board's budget.

Structured pruning (prune.py), low-rank factorization (lowrank.py), distillation in every
fine-tune (distill.py) and quantization-aware training (qat.py), searched against the board's
flash, RAM and latency budget (budget.py, search.py), reported in report.py; run.py is the
library call the CLI wraps.
"""

from edgekit.compress.run import CompressionResult, DoesNotFit, compress_model, parse_methods

__all__ = ["CompressionResult", "DoesNotFit", "compress_model", "parse_methods"]
