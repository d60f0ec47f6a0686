"""Python twin of the C test fixture tests/fixtures/fake_model (not a real model)."""

from __future__ import annotations

import numpy as np

ERROR_PATTERN = (-128, 127, -128)


def fake_model(x: np.ndarray, out_len: int = 4, carried: int = 0) -> np.ndarray:
    """out[i] = sat8(i % 7 + sum_{j % out_len == i} (+/-) x[j]), sign + when j // out_len is even.
    Built with FAKE_MODEL_STATE, out[0] also adds the state `carried` (0 after a reset, then the
    previous out[0]) and saturates again."""
    x = np.asarray(x, dtype=np.int64).ravel()
    out = np.empty(out_len, dtype=np.int64)
    for i in range(out_len):
        j = np.arange(i, x.size, out_len)
        signs = np.where((j // out_len) % 2 == 0, 1, -1)
        out[i] = i % 7 + int((x[j] * signs).sum())
    out = np.clip(out, -128, 127)
    out[0] = np.clip(out[0] + carried, -128, 127)
    return out.astype(np.int8)
