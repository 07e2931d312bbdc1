"""Chapter 4 — multi-head self-attention as a Keras layer.

Notation: b batch, t (or tq, tk) sequence lengths, d = d_model, h heads, dh = d / h.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V                    (…, tq, dv)
        scores  S = Q Kᵀ / √d_k                                      (…, tq, tk)
        weights A = softmax(S) over the keys (last axis); A[i, j] is how much query i reads value j
        masked keys get S = −∞ before the softmax (True in a mask = may attend)

    causal mask M[i, j] = (j ≤ i)                                    (t, t)

    MultiHead(X) = Concat(head_1, …, head_h) Wᴼ,
        head_i = Attention(X W_qᵢ, X W_kᵢ, X W_vᵢ),  where W_qᵢ is columns i·dh … (i+1)·dh − 1 of W_q

    sinusoidal positions PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d))

    pre-layer-norm Transformer block:
        x ← x + MultiHead(LayerNorm₁(x))
        x ← x + W₂ · gelu(W₁ · LayerNorm₂(x) + b₁) + b₂
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from tinyllm.validation import require_positive_int

@keras.saving.register_keras_serializable(package="tinyllm")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention with one fused QKV projection and plain-matmul attention.

    ``MultiHeadSelfAttention(d_model, num_heads, use_bias=True, dropout=0.0)``

    call(x, mask=None, causal=False, return_attention=False, training=None, attention_mask=None)
        x     (b, t, d_model)
        mask  which keys may be attended (True = attend):
              a 2-D bool (b, t) padding mask (False at padding), as Keras's
              ``Embedding(mask_zero=True)`` propagates it; or a 3-D/4-D bool mask
              broadcastable to (b, t, t) / (b, h, t, t) over (query, key).
        attention_mask  optional extra mask broadcastable to (b, t, t), e.g. a
              (t, t) one; combined with ``mask`` and ``causal`` by logical AND.
        causal  also apply the causal mask (query i sees keys j ≤ i).
        returns (b, t, d_model), and with ``return_attention=True`` also the
        attention weights (b, h, t, t).

    Maths (dh = d_model / h):
        [Q | K | V] = x W_qkv + b_qkv          one Dense to 3·d_model
        Q, K, V → (b, h, t, dh)                 head i = contiguous slice i of each
        A = softmax(Q Kᵀ / √dh, keys), masked keys −∞ → weight 0
        y = merge_heads(A V) W_o + b_o          (b, t, d_model)

    A query whose every key is masked gets zero weights and a zero head output
    (it attends to nothing) instead of the NaN of softmax(−∞, …, −∞). Keras's
    ``MultiHeadAttention`` spreads such a row uniformly instead; everywhere else
    the two agree to float tolerance once weights are copied
    (:func:`copy_keras_mha_weights`). Dropout, when set, drops attention weights
    in training, as Keras's layer does. The softmax runs in float32 even under a
    mixed-precision policy.
    """

    def __init__(self, d_model, num_heads, use_bias=True, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.d_model = require_positive_int(d_model, "d_model")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        if self.d_model % self.num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.head_dim = self.d_model // self.num_heads
        self.use_bias = bool(use_bias)
        self.dropout = float(dropout)
        self.qkv = keras.layers.Dense(3 * self.d_model, use_bias=self.use_bias, dtype=self.dtype_policy, name="qkv")
        self.out = keras.layers.Dense(self.d_model, use_bias=self.use_bias, dtype=self.dtype_policy, name="out")
        self.attention_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.d_model:
            raise ValueError(
                f"MultiHeadSelfAttention(d_model={self.d_model}) got x with last axis {input_shape[-1]}"
            )
        self.qkv.build(input_shape)
        self.out.build(tuple(input_shape[:-1]) + (self.d_model,))

    def _split_heads(self, y, b, t):  # (b, t, d) -> (b, h, t, dh)
        return ops.transpose(ops.reshape(y, (b, t, self.num_heads, self.head_dim)), (0, 2, 1, 3))

    def call(self, x, mask=None, causal=False, return_attention=False, training=None, attention_mask=None):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        qkv = ops.reshape(self.qkv(x), (b, t, 3, self.num_heads, self.head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # (3, b, h, t, dh)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.head_dim)
        scores = ops.cast(scores, "float32")  # (b, h, t, t)
        attend = attention_keep_mask(t, mask=mask, attention_mask=attention_mask, causal=causal)
        if attend is not None:
            scores = ops.where(attend, scores, ops.full_like(scores, -1e9))
        # one key (the first step of decoding) has weight 1; Keras warns about a softmax over one entry
        weights = ops.ones_like(scores) if scores.shape[-1] == 1 else ops.softmax(scores, axis=-1)
        if mask is not None or attention_mask is not None:  # (a causal row always keeps its own key)
            weights = weights * ops.cast(attend, "float32")  # a row with every key masked attends to nothing
        weights = ops.cast(weights, self.compute_dtype)
        heads = ops.matmul(self.attention_dropout(weights, training=training), v)  # (b, h, t, dh)
        merged = ops.reshape(ops.transpose(heads, (0, 2, 1, 3)), (b, t, self.d_model))
        y = self.out(merged)
        return (y, weights) if return_attention else y

    def compute_mask(self, x, mask=None):
        return mask if mask is not None and len(mask.shape) == 2 else None

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, use_bias=self.use_bias, dropout=self.dropout)
        return config


def attention_keep_mask(t, mask=None, attention_mask=None, causal=False):
    """Bool tensor broadcastable to (b, h, t, t), True = may attend, or None when nothing is masked.

    ``mask`` 2-D (b, t) is a padding mask over keys → (b, 1, 1, t); 3-D (b, t, t)
    → (b, 1, t, t); 4-D is used as given. ``attention_mask`` is broadcast the
    same way (2-D is taken as (t, t) here). ``causal`` adds j ≤ i.
    """
    parts = []
    if mask is not None:
        mask = ops.cast(mask, "bool")
        rank = len(mask.shape)
        if rank == 2:
            parts.append(mask[:, None, None, :])
        elif rank == 3:
            parts.append(mask[:, None, :, :])
        elif rank == 4:
            parts.append(mask)
        else:
            raise ValueError(f"mask must be (b, t) padding or (b, t, t) / (b, h, t, t), got shape {mask.shape}")
    if attention_mask is not None:
        attention_mask = ops.cast(attention_mask, "bool")
        rank = len(attention_mask.shape)
        if rank not in (2, 3, 4):
            raise ValueError(f"attention_mask must be (t, t), (b, t, t) or (b, h, t, t), got {attention_mask.shape}")
        parts.append(attention_mask if rank == 4 else ops.expand_dims(attention_mask, -3))
    if causal:
        positions = ops.arange(t)
        parts.append(positions[:, None] >= positions[None, :])  # (t, t), broadcasts
    if not parts:
        return None
    keep = parts[0]
    for part in parts[1:]:
        keep = ops.logical_and(keep, part)
    return keep


def copy_keras_mha_weights(keras_mha, layer: MultiHeadSelfAttention) -> None:
    """Copy a built ``keras.layers.MultiHeadAttention``'s weights into ``layer`` (same d_model and heads).

    Keras keeps per-head kernels: query/key/value (d, h, dh) and output (h, dh, d);
    reshaped to (d, d) and concatenated, they are exactly the fused QKV kernel
    whose columns i·dh … (i+1)·dh − 1 belong to head i.
    """
    d = layer.d_model
    q, k, v, o = (keras_mha._query_dense, keras_mha._key_dense, keras_mha._value_dense, keras_mha._output_dense)
    kernel = np.concatenate([np.reshape(ops.convert_to_numpy(p.kernel), (d, d)) for p in (q, k, v)], axis=1)
    new = [kernel]
    if layer.use_bias:
        new.append(np.concatenate([np.reshape(ops.convert_to_numpy(p.bias), (d,)) for p in (q, k, v)]))
    layer.qkv.set_weights(new)
    out = [np.reshape(ops.convert_to_numpy(o.kernel), (d, d))]
    if layer.use_bias:
        out.append(ops.convert_to_numpy(o.bias))
    layer.out.set_weights(out)
