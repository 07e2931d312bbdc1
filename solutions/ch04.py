"""Chapter 4 — self-attention, from one dot product to a Transformer block.

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

The exercise answers (NumPy, small and visible) come first. The Keras layers that
later chapters reuse implement the same maths with ``keras.ops`` on their own: an
exercise function is never called by teaching code (the student edition ships
without them). The tests prove the two agree, and agree with Keras's
``MultiHeadAttention``.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from course.validation import as_array, require_positive_int  # importing `course` pins Keras to TensorFlow

import keras  # noqa: E402  (after `course`)
from keras import ops  # noqa: E402

# --------------------------------------------------------------------------- exercises


def causal_mask(n):
    """(n, n) bool: True where query i may attend to key j, i.e. j ≤ i (itself and the past).

    The lower triangle including the diagonal; ``causal_mask(3)`` is
    [[T, F, F], [T, T, F], [T, T, T]].
    """
    n = require_positive_int(n, "n")
    return np.tril(np.ones((n, n), dtype=bool))


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(Q Kᵀ / √d_k) V with an optional mask; returns ``(output, weights)``.

    q (…, tq, dk), k (…, tk, dk), v (…, tk, dv); ``mask`` broadcastable to
    (…, tq, tk), True = may attend. Returns output (…, tq, dv) and weights
    (…, tq, tk), each row of weights summing to 1 over the keys.

    The softmax subtracts each row's maximum first, so logits of any size stay
    finite (e^(s − max) ≤ 1). A query row whose mask is all False has no key to
    attend to: that is an error (``ValueError`` naming ``mask``), not a silent NaN.
    """
    q = as_array(q, "q", min_ndim=2, dtype="float")
    k = as_array(k, "k", min_ndim=2, dtype="float")
    v = as_array(v, "v", min_ndim=2, dtype="float")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same depth d_k (last axis) to be dotted, got q {q.shape} and k {k.shape}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of keys (axis -2), got k {k.shape} and v {v.shape}")
    dtype = np.result_type(q.dtype, k.dtype, v.dtype)
    scores = q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64) / math.sqrt(q.shape[-1])
    if mask is not None:
        mask = as_array(mask, "mask").astype(bool)
        try:
            mask = np.broadcast_to(mask, scores.shape)
        except ValueError:
            raise ValueError(
                f"mask of shape {mask.shape} does not broadcast to the attention scores' shape {scores.shape} "
                "(…, tq, tk)"
            ) from None
        if not mask.any(axis=-1).all():
            raise ValueError("mask leaves a query with no key to attend to (a row of the mask is all False)")
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    output = weights @ v.astype(np.float64)
    return output.astype(dtype), weights.astype(dtype)


def sinusoidal_positional_encoding(length, depth):
    """(length, depth) float32 table of Vaswani et al.'s positional encodings.

    Column pair (2i, 2i+1) is (sin, cos) of the angle pos / 10000^(2i/depth): a
    wave whose wavelength grows geometrically from 2π (i = 0) to about 10000·2π.
    An odd ``depth`` keeps the last sin column.
    """
    length = require_positive_int(length, "length")
    depth = require_positive_int(depth, "depth")
    position = np.arange(length, dtype=np.float64)[:, None]  # (length, 1)
    even = np.arange(0, depth, 2, dtype=np.float64)[None, :]  # 2i, (1, ceil(depth/2))
    angle = position / np.power(10000.0, even / depth)
    table = np.zeros((length, depth))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : depth // 2])
    return table.astype(np.float32)


def multi_head_self_attention(x, wq, wk, wv, wo, num_heads, mask=None):
    """Concat(head_1, …, head_h) Wᴼ with head_i = Attention(X W_qᵢ, X W_kᵢ, X W_vᵢ), no biases.

    x (b, t, d); wq, wk, wv, wo (d, d); ``num_heads`` h divides d. Head i uses the
    contiguous slice i·dh … (i+1)·dh − 1 (dh = d/h) of the last axis of x·wq (and of
    x·wk, x·wv). ``mask`` broadcastable to (b, t, t) (or (b, h, t, t)), True = attend.
    Returns (b, t, d).
    """
    x = as_array(x, "x", ndim=3, dtype="float")
    b, t, d = x.shape
    num_heads = require_positive_int(num_heads, "num_heads")
    if d % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide the model depth d={d}")
    weights = {}
    for name, w in (("wq", wq), ("wk", wk), ("wv", wv), ("wo", wo)):
        w = as_array(w, name, ndim=2, dtype="float")
        if w.shape != (d, d):
            raise ValueError(f"{name} must have shape ({d}, {d}) to match x of shape {x.shape}, got {w.shape}")
        weights[name] = w.astype(np.float64)
    dh = d // num_heads

    def split_heads(y):  # (b, t, d) -> (b, h, t, dh)
        return y.reshape(b, t, num_heads, dh).transpose(0, 2, 1, 3)

    x64 = x.astype(np.float64)
    q, k, v = (split_heads(x64 @ weights[n]) for n in ("wq", "wk", "wv"))
    if mask is not None:
        mask = as_array(mask, "mask").astype(bool)
        if mask.ndim == 3:  # (b, t, t): the same mask for every head
            mask = mask[:, None]
    heads, _ = scaled_dot_product_attention(q, k, v, mask)  # (b, h, t, dh)
    merged = heads.transpose(0, 2, 1, 3).reshape(b, t, d)
    return (merged @ weights["wo"]).astype(x.dtype)


# --------------------------------------------------------------------------- Keras layers (reused by chapter 5)

_SERIALIZABLE_PACKAGE = "course_ch04"


@keras.saving.register_keras_serializable(package=_SERIALIZABLE_PACKAGE)
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


@keras.saving.register_keras_serializable(package=_SERIALIZABLE_PACKAGE)
class TransformerBlock(keras.layers.Layer):
    """Pre-layer-norm Transformer block: attention then MLP, each inside a residual.

    ``TransformerBlock(d_model, num_heads, mlp_units=None, activation="gelu", causal=False,
    dropout=0.0, layer_norm_epsilon=1e-5)``; ``mlp_units`` defaults to 4·d_model.

        x ← x + Dropout(MultiHeadSelfAttention(LayerNorm₁(x)))
        x ← x + Dropout(Dense_d(activation(Dense_mlp(LayerNorm₂(x)))))

    call(x, padding_mask=None, training=None, mask=None, return_attention=False)
        x             (b, t, d_model) → (b, t, d_model)
        padding_mask  (b, t) bool, False at padding keys (``mask``, as propagated
                      by Keras from ``Embedding(mask_zero=True)``, is used when
                      ``padding_mask`` is not given)
        return_attention  also return the block's attention weights (b, h, t, t)

    Layer norm before each sub-layer (GPT-2's arrangement, not the 2017 paper's
    post-norm) keeps the residual path an identity, which trains deep stacks
    without warm-up tricks. ``dropout`` applies to attention weights and to each
    residual branch.
    """

    def __init__(self, d_model, num_heads, mlp_units=None, activation="gelu", causal=False, dropout=0.0,
                 layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.d_model = require_positive_int(d_model, "d_model")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.mlp_units = require_positive_int(4 * self.d_model if mlp_units is None else mlp_units, "mlp_units")
        self.activation = activation
        self.causal = bool(causal)
        self.dropout = float(dropout)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        policy = self.dtype_policy  # sub-layers follow the block's (mixed-)precision policy
        self.ln1 = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=policy, name="ln1")
        self.attention = MultiHeadSelfAttention(self.d_model, self.num_heads, dropout=self.dropout, dtype=policy,
                                                name="attention")
        self.ln2 = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=policy, name="ln2")
        self.mlp_hidden = keras.layers.Dense(self.mlp_units, activation=activation, dtype=policy, name="mlp_hidden")
        self.mlp_out = keras.layers.Dense(self.d_model, dtype=policy, name="mlp_out")
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.d_model:
            raise ValueError(f"TransformerBlock(d_model={self.d_model}) got x with last axis {input_shape[-1]}")
        self.ln1.build(input_shape)
        self.attention.build(input_shape)
        self.ln2.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_units,))

    def call(self, x, padding_mask=None, training=None, mask=None, return_attention=False):
        if padding_mask is None:
            padding_mask = mask
        attended, weights = self.attention(
            self.ln1(x), mask=padding_mask, causal=self.causal, return_attention=True, training=training
        )
        x = x + self.residual_dropout(attended, training=training)
        x = x + self.residual_dropout(self.mlp_out(self.mlp_hidden(self.ln2(x))), training=training)
        return (x, weights) if return_attention else x

    def compute_mask(self, x, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            d_model=self.d_model, num_heads=self.num_heads, mlp_units=self.mlp_units,
            activation=keras.activations.serialize(keras.activations.get(self.activation))
            if not isinstance(self.activation, str) else self.activation,
            causal=self.causal, dropout=self.dropout, layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config


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


# --------------------------------------------------------------------------- attention applied: chapter 2's task


@keras.saving.register_keras_serializable(package=_SERIALIZABLE_PACKAGE)
class TransformerDecoderBlock(keras.layers.Layer):
    """Pre-layer-norm decoder block: causal self-attention, cross-attention over the encoder, MLP.

    ``TransformerDecoderBlock(d_model, num_heads, cross_attention_heads=None, mlp_units=None,
    activation="gelu", dropout=0.0, layer_norm_epsilon=1e-5)``

        y ← y + MultiHeadSelfAttention(LayerNorm₁(y), causal)            the target so far
        y ← y + MultiHeadAttention(query=LayerNorm₂(y), key=value=memory)  attention over encoder outputs
        y ← y + MLP(LayerNorm₃(y))

    call(y, memory, memory_mask=None, training=None, return_attention=False)
        y            (b, T, d_model) decoder states
        memory       (b, S, d_model) encoder outputs, one vector per source token
        memory_mask  (b, S) bool, False at source padding
        returns (b, T, d_model); with ``return_attention`` also the cross-attention
        weights (b, cross_attention_heads, T, S): row t is where target step t looked.

    Cross-attention is Keras's ``keras.layers.MultiHeadAttention`` — the same maths as
    :class:`MultiHeadSelfAttention` (the tests show the two equal), with queries from
    the decoder and keys/values from the encoder.
    """

    def __init__(self, d_model, num_heads, cross_attention_heads=None, mlp_units=None, activation="gelu",
                 dropout=0.0, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.d_model = require_positive_int(d_model, "d_model")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.cross_attention_heads = require_positive_int(
            num_heads if cross_attention_heads is None else cross_attention_heads, "cross_attention_heads")
        if self.d_model % self.cross_attention_heads:
            raise ValueError(f"cross_attention_heads={cross_attention_heads} must divide d_model={d_model}")
        self.mlp_units = require_positive_int(4 * self.d_model if mlp_units is None else mlp_units, "mlp_units")
        self.activation = activation
        self.dropout = float(dropout)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        policy = self.dtype_policy
        norm = lambda name: keras.layers.LayerNormalization(  # noqa: E731
            epsilon=self.layer_norm_epsilon, dtype=policy, name=name)
        self.ln1, self.ln2, self.ln3 = norm("ln1"), norm("ln2"), norm("ln3")
        self.self_attention = MultiHeadSelfAttention(self.d_model, self.num_heads, dropout=self.dropout, dtype=policy,
                                                     name="self_attention")
        self.cross_attention = keras.layers.MultiHeadAttention(
            self.cross_attention_heads, self.d_model // self.cross_attention_heads, dropout=self.dropout,
            dtype=policy, name="cross_attention")
        self.mlp_hidden = keras.layers.Dense(self.mlp_units, activation=activation, dtype=policy, name="mlp_hidden")
        self.mlp_out = keras.layers.Dense(self.d_model, dtype=policy, name="mlp_out")
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)

    def build(self, y_shape, memory_shape=None):
        memory_shape = y_shape if memory_shape is None else memory_shape
        self.ln1.build(y_shape)
        self.self_attention.build(y_shape)
        self.ln2.build(y_shape)
        self.cross_attention.build(y_shape, memory_shape)
        self.ln3.build(y_shape)
        self.mlp_hidden.build(y_shape)
        self.mlp_out.build(tuple(y_shape[:-1]) + (self.mlp_units,))

    def call(self, y, memory, memory_mask=None, training=None, return_attention=False):
        drop = lambda z: self.residual_dropout(z, training=training)  # noqa: E731
        y = y + drop(self.self_attention(self.ln1(y), causal=True, training=training))
        cross_mask = None
        if memory_mask is not None:  # (b, S) → (b, T, S): every target step sees the same source tokens
            cross_mask = ops.logical_and(ops.cast(memory_mask, "bool")[:, None, :],
                                         ops.ones((1, ops.shape(y)[1], 1), "bool"))
        attended, weights = self.cross_attention(self.ln2(y), memory, attention_mask=cross_mask,
                                                 return_attention_scores=True, training=training)
        y = y + drop(attended)
        y = y + drop(self.mlp_out(self.mlp_hidden(self.ln3(y))))
        return (y, weights) if return_attention else y

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, cross_attention_heads=self.cross_attention_heads,
                      mlp_units=self.mlp_units, activation=self.activation, dropout=self.dropout,
                      layer_norm_epsilon=self.layer_norm_epsilon)
        return config


def build_transformer_seq2seq(source_vocab_size: int, target_vocab_size: int, d_model: int = 64, num_heads: int = 4,
                              num_layers: int = 1, cross_attention_heads: int = 1, mlp_units: int | None = None,
                              dropout: float = 0.0, learning_rate: float = 2e-3, seed: int = 0):
    """A compiled Transformer encoder–decoder with chapter 2's interface.

    inputs ``[encoder_inputs (b, S), decoder_inputs (b, T)]`` ints (0 = padding) → logits (b, T, V),
    so chapter 2's ``train_seq2seq``, ``greedy_decode_full`` and ``evaluate`` work on it unchanged.

        memory = LayerNorm(Encoder^L(√d · Embed_src(x) + PE))        (b, S, d) one vector per source word
        y      = LayerNorm(Decoder^L(√d · Embed_tgt(d) + PE, memory)) (b, T, d)
        logits = y W + b                                             (b, T, V)

    PE is the sinusoidal table (``keras_hub.layers.SinePositionEncoding``); the encoder
    blocks are :class:`TransformerBlock` (bidirectional, source padding masked), the
    decoder blocks :class:`TransformerDecoderBlock` (causal, with cross-attention).
    Unlike chapter 2's LSTM, the decoder never squeezes the source into one state: every
    step looks back at all S encoder vectors. One cross-attention head by default, so
    each layer's cross-attention is one alignment you can read
    (:func:`cross_attention_weights`). Compiled like chapter 2's model: Adam with
    clipnorm 1, masked mean cross-entropy from logits (train with ``sample_weight``).
    """
    import keras_hub

    source_vocab_size = require_positive_int(source_vocab_size, "source_vocab_size")
    target_vocab_size = require_positive_int(target_vocab_size, "target_vocab_size")
    num_layers = require_positive_int(num_layers, "num_layers")
    keras.utils.set_random_seed(seed)
    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    source_mask = ops.not_equal(encoder_inputs, 0)
    scale = math.sqrt(d_model)

    x = keras.layers.Embedding(source_vocab_size, d_model, name="source_embedding")(encoder_inputs) * scale
    x = x + keras_hub.layers.SinePositionEncoding(name="source_positions")(x)
    maps = {}  # name → attention weights, read by attention_maps()
    for i in range(num_layers):
        x, maps[f"encoder_{i}"] = TransformerBlock(d_model, num_heads, mlp_units=mlp_units, dropout=dropout,
                                                   name=f"encoder_{i}")(x, padding_mask=source_mask,
                                                                        return_attention=True)
    memory = keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")(x)

    y = keras.layers.Embedding(target_vocab_size, d_model, name="target_embedding")(decoder_inputs) * scale
    y = y + keras_hub.layers.SinePositionEncoding(name="target_positions")(y)
    for i in range(num_layers):
        y, maps[f"decoder_{i}_cross"] = TransformerDecoderBlock(
            d_model, num_heads, cross_attention_heads=cross_attention_heads, mlp_units=mlp_units, dropout=dropout,
            name=f"decoder_{i}")(y, memory, memory_mask=source_mask, return_attention=True)
    y = keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")(y)
    logits = keras.layers.Dense(target_vocab_size, name="logits")(y)
    model = keras.Model([encoder_inputs, decoder_inputs], logits, name="transformer_seq2seq")
    from solutions.ch02 import compile_seq2seq

    compile_seq2seq(model, learning_rate)  # chapter 2's optimiser and masked loss, for a fair comparison
    # the same graph, read at its attention weights (shares every layer and weight with `model`)
    _ATTENTION_PROBES[model] = keras.Model([encoder_inputs, decoder_inputs], maps)
    return model


_ATTENTION_PROBES = weakref.WeakKeyDictionary()


def attention_maps(model, encoder_inputs, decoder_inputs) -> dict:
    """The attention weights inside a :func:`build_transformer_seq2seq` model, by layer name.

    ``"encoder_i"``: self-attention of encoder layer i, (b, heads, S, S) — row s is where
    source word s looked. ``"decoder_i_cross"``: cross-attention of decoder layer i,
    (b, cross_heads, T, S) — row t is the distribution over source tokens that the
    decoder read while predicting target token t; for a trained model, an alignment
    between the two sentences. Runs a second Keras model that shares every layer (and
    weight) of ``model``.
    """
    probe = _ATTENTION_PROBES.get(model)
    if probe is None:
        raise ValueError("attention_maps needs a model made by build_transformer_seq2seq in this session")
    encoder_inputs = as_array(encoder_inputs, "encoder_inputs", ndim=2, dtype="int").astype(np.int32)
    decoder_inputs = as_array(decoder_inputs, "decoder_inputs", ndim=2, dtype="int").astype(np.int32)
    if len(encoder_inputs) != len(decoder_inputs):
        raise ValueError(f"encoder_inputs and decoder_inputs must have the same number of rows, got "
                         f"{len(encoder_inputs)} and {len(decoder_inputs)}")
    maps = probe([encoder_inputs, decoder_inputs], training=False)
    return {name: ops.convert_to_numpy(weights) for name, weights in maps.items()}
