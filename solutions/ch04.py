"""Chapter 4 — self-attention, from one dot product to a Transformer block.

Notation: b batch, t (or tq, tk) sequence lengths, d = d_model, h heads, dh = d / h.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V                    (…, tq, dv)
        scores  S = Q Kᵀ / √d_k                                      (…, tq, tk)
        weights A = softmax(S) over the keys (last axis); A[i, j] is how much query i reads value j
        masked keys get S = −∞ before the softmax (True in a mask = may attend)

    causal mask M[i, j] = (j ≤ i)                                    (t, t)

    MultiHead(X) = Concat(head_1, …, head_h) Wᴼ,
        head_i = Attention(X W_qᵢ, X W_kᵢ, X W_vᵢ),  where W_qᵢ is columns i·dh … (i+1)·dh − 1 of
        W_q

    sinusoidal positions PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(pos /
    10000^(2i/d))

    pre-layer-norm Transformer block:
        x ← x + MultiHead(LayerNorm₁(x))
        x ← x + W₂ · gelu(W₁ · LayerNorm₂(x) + b₁) + b₂

These are the exercise answers, in NumPy. The Keras layers of :mod:`tinyllm.attention`
and :mod:`tinyllm.transformer` implement the same maths with ``keras.ops`` on their
own (an exercise function is a leaf: the student edition has none); the tests prove
the two agree, and agree with Keras's ``MultiHeadAttention``.
"""

from __future__ import annotations

import math

import numpy as np

from tinyllm.validation import as_array, require_positive_int


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
            f"q and k must have the same depth d_k (last axis) to be dotted, got q {q.shape} and k "
            f"{k.shape}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of keys (axis -2), got k {k.shape} and v {v.shape}"
        )
    dtype = np.result_type(q.dtype, k.dtype, v.dtype)
    scores = (
        q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64) / math.sqrt(q.shape[-1])
    )
    if mask is not None:
        mask = as_array(mask, "mask").astype(bool)
        try:
            mask = np.broadcast_to(mask, scores.shape)
        except ValueError:
            raise ValueError(
                f"mask of shape {mask.shape} does not broadcast to the attention scores' shape "
                f"{scores.shape} "
                "(…, tq, tk)"
            ) from None
        if not mask.any(axis=-1).all():
            raise ValueError(
                "mask leaves a query with no key to attend to (a row of the mask is all False)"
            )
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
            raise ValueError(
                f"{name} must have shape ({d}, {d}) to match x of shape {x.shape}, got {w.shape}"
            )
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


BLOCK_KEYS = (
    "ln1_gamma",
    "ln1_beta",
    "wq",
    "bq",
    "wk",
    "bk",
    "wv",
    "bv",
    "wo",
    "bo",
    "ln2_gamma",
    "ln2_beta",
    "w1",
    "b1",
    "w2",
    "b2",
)


def _layer_norm(x, gamma, beta, epsilon=1e-5):
    """(x − mean) / √(biased variance + ε) · γ + β over the last axis."""
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def _gelu(x):
    """The exact GELU, 0.5·x·(1 + erf(x/√2)) (Keras's default; not the tanh approximation)."""
    return 0.5 * x * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(x / math.sqrt(2.0)))


def _block_weights(params, d):
    """``params`` checked: every key of a block, each of the shape d and the MLP width imply, as
    float64."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    missing = [key for key in BLOCK_KEYS if key not in params]
    if missing:
        raise ValueError(f"params is missing {', '.join(missing)}")
    weights = {
        key: as_array(params[key], key, dtype="float").astype(np.float64) for key in BLOCK_KEYS
    }
    m = weights["w1"].shape[-1]
    shapes = {
        "wq": (d, d),
        "wk": (d, d),
        "wv": (d, d),
        "wo": (d, d),
        "w1": (d, m),
        "w2": (m, d),
        "b1": (m,),
    }
    for key, value in weights.items():
        wanted = shapes.get(key, (d,))
        if value.shape != wanted:
            raise ValueError(
                f"params[{key!r}] must have shape {wanted} for x with d={d}, got {value.shape}"
            )
    return weights


def transformer_block(x, params, num_heads, causal=False):
    """One pre-layer-norm Transformer block in NumPy, x (b, t, d) → (b, t, d).

    h   = x + MHA(LN₁(x))                     MHA with biases: q = LN₁(x)·wq + bq, …; heads are
                                              contiguous slices; softmax(QKᵀ/√dh), causal if asked
    out = h + gelu(LN₂(h)·w1 + b1)·w2 + b2     exact (erf) GELU; LN over the last axis, ε = 1e-5
    """
    x = as_array(x, "x", ndim=3, dtype="float")
    b, t, d = x.shape
    if t == 0:
        raise ValueError(f"x must hold at least one position, got shape {x.shape}")
    num_heads = require_positive_int(num_heads, "num_heads")
    if d % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide the model depth d={d}")
    p = _block_weights(params, d)
    dh = d // num_heads

    def split_heads(y):  # (b, t, d) -> (b, h, t, dh)
        return y.reshape(b, t, num_heads, dh).transpose(0, 2, 1, 3)

    x64 = x.astype(np.float64)
    h = _layer_norm(x64, p["ln1_gamma"], p["ln1_beta"])
    q, k, v = (split_heads(h @ p["w" + n] + p["b" + n]) for n in "qkv")
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)  # (b, h, t, t)
    if causal:
        scores = np.where(np.tril(np.ones((t, t), bool)), scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    attention = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    merged = (attention @ v).transpose(0, 2, 1, 3).reshape(b, t, d)
    h = x64 + merged @ p["wo"] + p["bo"]
    mlp = (
        _gelu(_layer_norm(h, p["ln2_gamma"], p["ln2_beta"]) @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    )
    return (h + mlp).astype(x.dtype)
