"""Chapter 4 — the pre-layer-norm Transformer block.

x ← x + MultiHead(LayerNorm₁(x))
x ← x + W₂ · gelu(W₁ · LayerNorm₂(x) + b₁) + b₂
"""

from __future__ import annotations

import math

import keras
from keras import ops

from tinyllm.attention import MultiHeadSelfAttention
from tinyllm.validation import require_positive_int


def gelu(x):
    """GELU, x·Φ(x) = ½x(1 + erf(x/√2)): Keras's exact "gelu" written with erf, which XLA runs
    faster on a CPU than TensorFlow's erfc form (the same function, to float rounding)."""
    return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))


@keras.saving.register_keras_serializable(package="tinyllm")
class TransformerBlock(keras.layers.Layer):
    """Pre-layer-norm Transformer block, x (b, t, d) → (b, t, d): attention, then an MLP, each in a
    residual.

        x ← x + MultiHeadSelfAttention(LayerNorm₁(x))
        x ← x + W₂ · gelu(W₁ · LayerNorm₂(x) + b₁) + b₂          W₁ (d, 4d), W₂ (4d, d)

    ``causal`` masks the future (a GPT block); ``mask`` (b, t) is False at padding keys (Keras
    hands it on from ``Embedding(mask_zero=True)``, or pass it); ``return_attention`` also
    returns the attention weights (b, h, t, t). Layer norm before each sub-layer (GPT-2's
    arrangement, not the 2017 paper's post-norm) keeps the residual path an identity, which
    trains deep stacks without warm-up tricks. ε = 1e-5, as in GPT-2 (Keras's default is 1e-3).
    """

    def __init__(self, d_model, num_heads, causal=False, **kwargs):
        super().__init__(**kwargs)
        self.d_model = require_positive_int(d_model, "d_model")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.causal = causal
        policy = self.dtype_policy  # sub-layers follow the block's (mixed-)precision policy
        self.ln1 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="ln1")
        self.attention = MultiHeadSelfAttention(
            self.d_model, self.num_heads, dtype=policy, name="attention"
        )
        self.ln2 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="ln2")
        self.mlp_hidden = keras.layers.Dense(
            4 * self.d_model, activation=gelu, dtype=policy, name="mlp_hidden"
        )
        self.mlp_out = keras.layers.Dense(self.d_model, dtype=policy, name="mlp_out")
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] != self.d_model:
            raise ValueError(
                f"TransformerBlock(d_model={self.d_model}) got x with last axis {input_shape[-1]}"
            )
        for layer in (self.ln1, self.attention, self.ln2, self.mlp_hidden):
            layer.build(input_shape)
        self.mlp_out.build(tuple(input_shape[:-1]) + (4 * self.d_model,))

    def call(self, x, mask=None, return_attention=False):
        attended, weights = self.attention(
            self.ln1(x), mask=mask, causal=self.causal, return_attention=True
        )
        x = x + attended
        x = x + self.mlp_out(self.mlp_hidden(self.ln2(x)))
        return (x, weights) if return_attention else x


def block_params(block) -> dict:
    """A built :class:`TransformerBlock`'s weights as NumPy arrays, by the names of
    ``ch04.transformer_block``.

    The fused kernel W_qkv (d, 3d) splits into wq, wk, wv (d, d): its first d columns make Q,
    the next d K, the last d V, and inside each the heads are contiguous slices of dh columns.
    """
    d, attention = block.d_model, block.attention
    params = {
        "ln1_gamma": block.ln1.gamma,
        "ln1_beta": block.ln1.beta,
        "ln2_gamma": block.ln2.gamma,
        "ln2_beta": block.ln2.beta,
        "wo": attention.out.kernel,
        "bo": attention.out.bias,
        "w1": block.mlp_hidden.kernel,
        "b1": block.mlp_hidden.bias,
        "w2": block.mlp_out.kernel,
        "b2": block.mlp_out.bias,
    }
    params = {name: variable.numpy() for name, variable in params.items()}
    kernel, bias = attention.qkv.kernel.numpy(), attention.qkv.bias.numpy()
    for i, name in enumerate("qkv"):
        params["w" + name] = kernel[:, i * d : (i + 1) * d]
        params["b" + name] = bias[i * d : (i + 1) * d]
    return params
