"""The chapter-5 mini GPT: a decoder-only Transformer built from chapter 4's blocks.

    token ids y (b, t)
    x₀ = E[y] + P[0 … t−1]                    token + learned position embeddings   (b, t, d)
    x_l = Block_l(x_{l−1}), l = 1 … L         chapter 4's pre-layer-norm TransformerBlock, causal
    z = LayerNorm(x_L) Eᵀ                     logits (b, t, v): weight tying, the output matrix
                                              is the token embedding E itself
    p(y_{t+1} | y_≤t) = softmax(z_t)

The parameters, part by part, are counted by :func:`parameter_count`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import ops

from tinyllm.transformer import TransformerBlock, block_params
from tinyllm.validation import require_positive_int


@dataclass(frozen=True)
class GPTConfig:
    """Everything that fixes the shapes of a mini GPT (saved next to its checkpoints)."""

    vocabulary_size: int
    sequence_length: int = 64
    num_layers: int = 4
    num_heads: int = 4
    d_model: int = 128

    def __post_init__(self):
        for name in ("vocabulary_size", "sequence_length", "num_layers", "num_heads", "d_model"):
            require_positive_int(getattr(self, name), name)
        if self.d_model % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide d_model={self.d_model}")


class GPT(keras.Model):
    """Decoder-only Transformer language model: token ids (b, t ≤ T) → next-token logits (b, t, v),
    float32.

    ``GPT(config)`` creates the weights at once (so they can be counted and restored).
    Embeddings start as N(0, 0.02²), as in GPT-2. The logits are float32 even under a
    mixed-precision policy, so the softmax and the loss stay accurate.
    """

    def __init__(self, config: GPTConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = c = config
        self.token_embedding = keras.layers.Embedding(
            c.vocabulary_size,
            c.d_model,
            name="token_embedding",
            embeddings_initializer=keras.initializers.RandomNormal(0, 0.02),
        )
        self.blocks = [
            TransformerBlock(c.d_model, c.num_heads, causal=True, name=f"block_{i}")
            for i in range(c.num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.build((None, c.sequence_length))

    def build(self, input_shape):
        c = self.config
        self.token_embedding.build((None, None))
        # P (T, d) is sliced, P[:t], not looked up, so its gradient is dense: Keras 3.15's Adam
        # squares a lookup's sparse gradient (tf.IndexedSlices) slice by slice, which is wrong
        # where an index repeats (keras-team/keras#18692; tests/test_ch05.py). The tied E's
        # gradient is dense too: the output matmul's dense part absorbs its lookup's slices.
        self.position_embedding = self.add_weight(
            shape=(c.sequence_length, c.d_model),
            name="position_embedding",
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )
        for block in self.blocks:
            block.build((None, None, c.d_model))
        self.final_norm.build((None, None, c.d_model))

    def call(self, token_ids):
        t = ops.shape(token_ids)[1]
        positions = ops.cast(self.position_embedding[:t], self.compute_dtype)
        x = self.token_embedding(token_ids) + positions[None]
        for block in self.blocks:
            x = block(x)
        x = self.final_norm(x)
        # x · E_jᵀ
        logits = ops.matmul(x, ops.transpose(ops.cast(self.token_embedding.embeddings, x.dtype)))
        return ops.cast(logits, "float32")


def gpt_params(model: GPT) -> dict:
    """A built :class:`GPT`'s weights as NumPy arrays, by the names of ``ch05.gpt_forward``."""
    return {
        "token_embedding": model.token_embedding.embeddings.numpy(),
        "position_embedding": model.position_embedding.numpy(),
        "blocks": [block_params(block) for block in model.blocks],
        "final_gamma": model.final_norm.gamma.numpy(),
        "final_beta": model.final_norm.beta.numpy(),
    }


def parameter_count(config: GPTConfig) -> dict:
    """The parameters counted by hand, part by part, and the total (no output matrix: it is tied).

    Attention: the fused QKV 3d² + 3d and the output d² + d; MLP: d·4d + 4d and 4d·d + d.
    """
    v, t, d, n = config.vocabulary_size, config.sequence_length, config.d_model, config.num_layers
    parts = {
        "token embedding v·d": v * d,
        "position embedding T·d": t * d,
        "attention per block 4d²+4d": 4 * d * d + 4 * d,
        "MLP per block 8d²+5d": 8 * d * d + 5 * d,
        "layer norms per block 4d": 4 * d,
        "final layer norm 2d": 2 * d,
    }
    block = sum(value for key, value in parts.items() if "per block" in key)
    parts["total"] = v * d + t * d + n * block + 2 * d
    return parts


def per_sequence_loss(targets, logits):
    """Mean next-token cross-entropy of each sequence: targets (b, t) ints, logits (b, t, v) → (b,).

    Averaging these over the global batch (``tf.nn.compute_average_loss``) gives
    the mean over every token, the quantity ``model.fit`` minimises with
    ``SparseCategoricalCrossentropy(from_logits=True)``.
    """
    # (b, t)
    losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    return ops.mean(losses, axis=-1)
