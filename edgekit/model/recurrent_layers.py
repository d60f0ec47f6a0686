"""The Keras layers of a conversion twin (see edgekit.model.recurrent): Embedding, LSTM, GRU and SimpleRNN
rewritten with the same weights as graphs TensorFlow's converter turns into int8 ops TFLM has.

- Embedding -> a plain gather of the table: one int8 GATHER on int32 ids (Keras 3's own
  Embedding adds LESS/ADD/SELECT for negative ids, and TFLM has no SELECT).
- LSTM -> a tf.function carrying the attributes of tf_keras' `standard_lstm`
  (`api_implements="lstm_<uuid>"`, `time_major`, `go_backwards`): the converter's
  prepare-composite-functions pass replaces its body by the fused UNIDIRECTIONAL_SEQUENCE_LSTM,
  which quantizes to full int8 (int16 cell state). The body is only run in float, to check
  the twin against Keras.
- GRU -> unrolled per time step: UNPACK of the int8 sequence, one FULLY_CONNECTED per gate and
  input (separate weight matrices, so no SPLIT of a float tensor), ADD, SUB, MUL, LOGISTIC,
  TANH, and PACK when the whole sequence is returned: no float islands.
- SimpleRNN -> unrolled the same way: FULLY_CONNECTED, ADD and its TANH or RELU per step.
- A reversed sequence (the backward half of Bidirectional) is an int8 GATHER along time.

Each call takes and ignores `mask`: a functional model's clone passes the one Keras recorded
(recurrent.py refuses masks that would matter). Only edgekit.model.recurrent imports this
module, in the conversion child process.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from edgekit.model.keras_io import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402  (after edgekit's quiet TensorFlow set-up)

LSTM_CELL_CLIP = 10.0  # what TensorFlow's Keras-LSTM fusion writes into UNIDIRECTIONAL_SEQUENCE_LSTM
# Gate activations each rewrite computes; any other makes recurrent.py refuse the layer.
ACTIVATIONS = {"tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu}


def _constant(layer: keras.layers.Layer, name: str, value: np.ndarray) -> Any:
    """A frozen (non-trainable) weight holding `value`."""
    return layer.add_weight(name=name, shape=value.shape, dtype="float32", trainable=False,
                            initializer=keras.initializers.Constant(np.asarray(value, np.float32)))


def reverse_time(x: Any) -> Any:
    """x [batch, time, ...] with time reversed, as an int8-friendly GATHER along axis 1."""
    steps = int(x.shape[1])
    return tf.gather(x, tf.constant(np.arange(steps - 1, -1, -1, dtype=np.int32)), axis=1)


class TableGather(keras.layers.Layer):
    """Embedding as a plain gather of its table by int32 ids (mask ignored: see recurrent.py)."""

    def __init__(self, table: np.ndarray, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = _constant(self, "table", table)

    def call(self, ids: Any, mask: Any = None) -> Any:
        """The table rows of `ids` (any float ids are whole numbers: cast, not rounded)."""
        return tf.gather(self.table, tf.cast(ids, tf.int32))


def _standard_lstm(inputs: Any, init_h: Any, init_c: Any, kernel: Any, recurrent_kernel: Any,
                   bias: Any) -> tuple[Any, Any, Any, Any, Any]:
    """tf_keras' standard_lstm contract (argument order and 5 results are what the converter's
    Keras-LSTM fusion reads); gate order i, f, c, o as in Keras 3."""
    h, c = init_h, init_c
    outputs = []
    for t in range(int(inputs.shape[1])):
        z = tf.matmul(inputs[:, t], kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        # The fused op the converter makes clips the cell state (cell_clip=LSTM_CELL_CLIP): the
        # float check then flags a model whose cell state goes past it.
        c = tf.clip_by_value(tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g), -LSTM_CELL_CLIP, LSTM_CELL_CLIP)
        h = tf.sigmoid(o) * tf.tanh(c)
        outputs.append(h)
    sequence = tf.stack(outputs, axis=1)
    return sequence[:, -1], sequence, h, c, tf.constant(0.0)


class FusedLSTM(keras.layers.Layer):
    """A Keras 3 LSTM (tanh/sigmoid, no state carried) as the fused UNIDIRECTIONAL_SEQUENCE_LSTM."""

    def __init__(self, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray, *,
                 return_sequences: bool, go_backwards: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(recurrent_kernel.shape[0])
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.kernel = _constant(self, "kernel", kernel)
        self.recurrent_kernel = _constant(self, "recurrent_kernel", recurrent_kernel)
        self.bias = _constant(self, "bias", bias)
        # One API name per layer, as tf_keras does, so the converter fuses each call separately.
        attributes = {"api_implements": f"lstm_{uuid.uuid4()}", "api_preferred_device": "CPU",
                      "time_major": False, "go_backwards": False}
        self._lstm = tf.function(_standard_lstm, experimental_attributes=attributes, autograph=False)

    def call(self, x: Any, mask: Any = None) -> Any:
        """The LSTM's output sequence (or its last step); reversed time for go_backwards, as Keras."""
        if self.go_backwards:
            x = reverse_time(x)
        zeros = tf.zeros((tf.shape(x)[0], self.units), dtype=x.dtype)
        last, sequence, _, _, _ = self._lstm(x, zeros, zeros, tf.convert_to_tensor(self.kernel),
                                             tf.convert_to_tensor(self.recurrent_kernel),
                                             tf.convert_to_tensor(self.bias))
        return sequence if self.return_sequences else last


class _Unrolled(keras.layers.Layer):
    """A Keras 3 recurrent layer unrolled over its (static) time steps; subclasses give one step."""

    def __init__(self, *, return_sequences: bool, go_backwards: bool, time_order_output: bool,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        # Keras returns a backward layer's sequence in processing order; Bidirectional flips it
        # back, which the twin does by stacking in time order instead (no reversal op).
        self.time_order_output = time_order_output

    @staticmethod
    def _dense(x: Any, w: Any, b: Any) -> Any:
        y = tf.matmul(x, tf.convert_to_tensor(w))
        return y if b is None else y + tf.convert_to_tensor(b)

    def _step(self, x: Any, h: Any | None) -> Any:
        raise NotImplementedError

    def call(self, x: Any, mask: Any = None) -> Any:
        """The layer's output sequence (or its last step), computed step by step."""
        steps = tf.unstack(x, axis=1)
        if self.go_backwards:
            steps = steps[::-1]
        h = None
        outputs = []
        for xt in steps:
            h = self._step(xt, h)
            outputs.append(h)
        if not self.return_sequences:
            return h
        if self.go_backwards and self.time_order_output:
            outputs = outputs[::-1]
        return tf.stack(outputs, axis=1)


class UnrolledGRU(_Unrolled):
    """A Keras 3 GRU unrolled over its (static) time steps with one weight matrix per gate."""

    def __init__(self, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None, *,
                 reset_after: bool, activation: str, recurrent_activation: str, return_sequences: bool,
                 go_backwards: bool = False, time_order_output: bool = False, **kwargs: Any) -> None:
        super().__init__(return_sequences=return_sequences, go_backwards=go_backwards,
                         time_order_output=time_order_output, **kwargs)
        units = int(recurrent_kernel.shape[0])
        self.reset_after = reset_after
        self.activation = ACTIVATIONS[activation]
        self.recurrent_activation = ACTIVATIONS[recurrent_activation]
        gates = "zrh"
        self.w = [_constant(self, f"kernel_{g}", kernel[:, k * units:(k + 1) * units]) for k, g in enumerate(gates)]
        self.u = [_constant(self, f"recurrent_{g}", recurrent_kernel[:, k * units:(k + 1) * units])
                  for k, g in enumerate(gates)]
        input_bias = recurrent_bias = None
        if bias is not None:
            input_bias = bias[0] if reset_after else bias
            recurrent_bias = bias[1] if reset_after else None
        self.b = [None if input_bias is None else _constant(self, f"bias_{g}", input_bias[k * units:(k + 1) * units])
                  for k, g in enumerate(gates)]
        self.rb = [None if recurrent_bias is None else
                   _constant(self, f"recurrent_bias_{g}", recurrent_bias[k * units:(k + 1) * units])
                   for k, g in enumerate(gates)]

    def _step(self, x: Any, h: Any | None) -> Any:
        xz, xr, xh = (self._dense(x, w, b) for w, b in zip(self.w, self.b))
        if h is None:  # first step, h = 0: the recurrent products are their biases alone
            rz, rr, rh = (None if rb is None else tf.convert_to_tensor(rb) for rb in self.rb)
            z = self.recurrent_activation(xz if rz is None else xz + rz)
            r = self.recurrent_activation(xr if rr is None else xr + rr)
            if self.reset_after and rh is not None:
                hh = self.activation(xh + r * rh)
            else:
                hh = self.activation(xh)
            return hh - z * hh
        z = self.recurrent_activation(xz + self._dense(h, self.u[0], self.rb[0]))
        r = self.recurrent_activation(xr + self._dense(h, self.u[1], self.rb[1]))
        if self.reset_after:
            hh = self.activation(xh + r * self._dense(h, self.u[2], self.rb[2]))
        else:
            hh = self.activation(xh + self._dense(r * h, self.u[2], None))
        return hh + z * (h - hh)  # = z * h + (1 - z) * hh without a constant 1


class UnrolledSimpleRNN(_Unrolled):
    """A Keras 3 SimpleRNN unrolled over its time steps: h = act(x W + b + h U)."""

    def __init__(self, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None, *,
                 activation: str, return_sequences: bool, go_backwards: bool = False,
                 time_order_output: bool = False, **kwargs: Any) -> None:
        super().__init__(return_sequences=return_sequences, go_backwards=go_backwards,
                         time_order_output=time_order_output, **kwargs)
        self.activation = ACTIVATIONS[activation]
        self.w = _constant(self, "kernel", kernel)
        self.u = _constant(self, "recurrent_kernel", recurrent_kernel)
        self.b = None if bias is None else _constant(self, "bias", bias)

    def _step(self, x: Any, h: Any | None) -> Any:
        y = self._dense(x, self.w, self.b)
        return self.activation(y if h is None else y + self._dense(h, self.u, None))


class Merged(keras.layers.Layer):
    """Bidirectional: a forward and a backward twin layer, merged as Keras merges them."""

    def __init__(self, forward: keras.layers.Layer, backward: keras.layers.Layer, merge_mode: str,
                 return_sequences: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.forward = forward
        self.backward = backward
        self.merge_mode = merge_mode
        self.return_sequences = return_sequences

    def call(self, x: Any, mask: Any = None) -> Any:
        """Both directions over x, the backward sequence in time order, then merged."""
        y = self.forward(x)
        y_rev = self.backward(x)
        if self.return_sequences and not getattr(self.backward, "time_order_output", False):
            y_rev = reverse_time(y_rev)
        if self.merge_mode == "concat":
            return tf.concat([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "mul":
            return y * y_rev
        return (y + y_rev) * 0.5  # "ave"
