"""Keras layers for transformer language models that edgekit can also run one token at a time
(edgekit.model.decode: each has a decode_step). Importing this module imports Keras."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable("edgekit")
class TokenAndPositionEmbedding(layers.Layer):
    """Token ids (batch, T) -> token embedding + learned position embedding (batch, T, dim)."""

    def __init__(self, maxlen: int, vocab_size: int, embed_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = layers.Embedding(vocab_size, embed_dim, name="token_emb")
        self.pos_emb = layers.Embedding(maxlen, embed_dim, name="pos_emb")

    def build(self, input_shape: Any) -> None:
        """Both tables (positions: up to the input's length)."""
        self.token_emb.build(input_shape)
        self.pos_emb.build((input_shape[-1],))

    def call(self, x: Any) -> Any:
        """The window: each token's embedding plus its position's."""
        return self.token_emb(x) + self.pos_emb(ops.arange(ops.shape(x)[-1]))

    def decode_step(self, step: Any, x: Any) -> Any:
        """One token (batch, 1) at step.position (edgekit.model.decode.StepInputs)."""
        return self.token_emb(x) + self.pos_emb(step.position)

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (the layer saves with the model)."""
        return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim}


__all__ = ["TokenAndPositionEmbedding"]
