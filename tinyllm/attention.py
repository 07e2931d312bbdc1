"""Chapter 4 — multi-head self-attention as a Keras layer.

Notation: b batch, t sequence length, d = d_model, h heads, dh = d / h.

    Attention(Q, K, V) = softmax(Q Kᵀ / √dh) V          weights A (b, h, t, t): A[i, j] is how much
                                                        query i reads value j; masked keys get −∞
    MultiHead(X) = Concat(head_1, …, head_h) Wᴼ,   head_i = Attention(X W_qᵢ, X W_kᵢ, X W_vᵢ),
                                                   W_qᵢ = columns i·dh … (i+1)·dh − 1 of W_q
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from tinyllm.validation import require_positive_int


@keras.saving.register_keras_serializable(package="tinyllm")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention, x (b, t, d) → (b, t, d), with one fused QKV projection.

        [Q | K | V] = x W_qkv + b_qkv       one Dense to 3d; head i takes slice i of each
        A = softmax(Q Kᵀ / √dh)              over the keys, masked keys at −∞ (weight 0)
        y = merge_heads(A V) W_o + b_o

    ``mask`` (b, t) bool is False at padding keys (Keras hands the mask of
    ``Embedding(mask_zero=True)`` to it by itself); ``causal`` lets query i see keys j ≤ i;
    ``return_attention`` also returns A (b, h, t, t). Masked keys get −1e9, not −∞, so a sample
    that is all padding gets finite (uniform) weights, never NaN. The softmax runs in float32
    even under a mixed-precision policy.
    """

    def __init__(self, d_model, num_heads, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.d_model = require_positive_int(d_model, "d_model")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        if self.d_model % self.num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        self.head_dim = self.d_model // self.num_heads
        self.use_bias = use_bias
        self.qkv = keras.layers.Dense(
            3 * self.d_model, use_bias=use_bias, dtype=self.dtype_policy, name="qkv"
        )
        self.out = keras.layers.Dense(
            self.d_model, use_bias=use_bias, dtype=self.dtype_policy, name="out"
        )
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] != self.d_model:
            raise ValueError(
                f"MultiHeadSelfAttention(d_model={self.d_model}) got x with last axis "
                f"{input_shape[-1]}"
            )
        self.qkv.build(input_shape)
        self.out.build(input_shape)

    def call(self, x, mask=None, causal=False, return_attention=False):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        q, k, v = (  # each (b, h, t, dh); split first: a 5-D transpose costs XLA pads, copies
            ops.transpose(ops.reshape(z, (b, t, self.num_heads, self.head_dim)), (0, 2, 1, 3))
            for z in ops.split(self.qkv(x), 3, axis=-1)
        )
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.head_dim)
        keep = True  # where query i may read key j, broadcast to (b, h, t, t)
        if mask is not None:
            keep = ops.cast(mask, "bool")[:, None, None, :]
        if causal:
            positions = ops.arange(t)
            keep = ops.logical_and(keep, positions[:, None] >= positions[None, :])
        scores = ops.where(keep, ops.cast(scores, "float32"), -1e9)
        weights = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        heads = ops.matmul(weights, v)  # (b, h, t, dh)
        y = self.out(ops.reshape(ops.transpose(heads, (0, 2, 1, 3)), (b, t, self.d_model)))
        return (y, weights) if return_attention else y


def copy_keras_mha_weights(keras_mha, layer: MultiHeadSelfAttention) -> None:
    """Copy a built ``keras.layers.MultiHeadAttention``'s weights into ``layer`` (same d_model and
    heads).

    Keras keeps per-head kernels: query/key/value (d, h, dh) and output (h, dh, d);
    reshaped to (d, d) and concatenated, they are exactly the fused QKV kernel
    whose columns i·dh … (i+1)·dh − 1 belong to head i.
    """
    d = layer.d_model
    parts = [keras_mha._query_dense, keras_mha._key_dense, keras_mha._value_dense]
    qkv = [np.concatenate([np.reshape(p.kernel.numpy(), (d, d)) for p in parts], axis=1)]
    out = [np.reshape(keras_mha._output_dense.kernel.numpy(), (d, d))]
    if layer.use_bias:
        qkv.append(np.concatenate([np.reshape(p.bias.numpy(), (d,)) for p in parts]))
        out.append(keras_mha._output_dense.bias.numpy())
    layer.qkv.set_weights(qkv)
    layer.out.set_weights(out)
