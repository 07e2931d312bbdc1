"""Chapter 7 — the KV cache: decode one token at a time without recomputing the context.

A causal model never lets position i read the future, so the keys and values of positions
0 … p−1 do not change when token p arrives. Keep them (per block: K, V (b, h, p, dh)) and
run only the new tokens:

    q, k, v = split(LayerNorm₁(x_new) W_qkv)          (b, h, n, dh) for the n new tokens
    K ← [K_past ; k],  V ← [V_past ; v]                (b, h, p+n, dh)
    A = softmax(q Kᵀ / √dh), query i (position p+i) reads keys j ≤ p+i

Work per generated token: O(d²) for the projections and MLP, O(t·d) for attention over the
t cached keys — instead of O(t·d² + t²·d) to recompute the whole context. The cache is one
tensor (L, 2, b, h, p, dh): block l's keys at [l, 0], values at [l, 1]. Every layer is the
model's own (its Dense, LayerNorm and Embedding layers are called), so a quantized model
decodes with its quantized layers.
"""

from __future__ import annotations

import math

import tensorflow as tf
from keras import ops

from tinyllm.sampling import compiled, next_token_logits
from tinyllm.validation import as_array, require_positive_int


def attend_with_cache(attention, x, past_keys, past_values):
    """Causal self-attention of ``n`` new positions over the past ones and themselves.

    attention: a built ``MultiHeadSelfAttention``; x (b, n, d) the new positions' inputs (already
    layer-normed); past_keys, past_values (b, h, p, dh). Returns (y (b, n, d), keys, values
    (b, h, p+n, dh)). The same maths as ``attention(x_all, causal=True)`` at the last n positions.
    """
    b, n = ops.shape(x)[0], ops.shape(x)[1]
    h, dh = attention.num_heads, attention.head_dim
    # (3, b, h, n, dh)
    qkv = ops.transpose(ops.reshape(attention.qkv(x), (b, n, 3, h, dh)), (2, 0, 3, 1, 4))
    keys = ops.concatenate([past_keys, qkv[1]], axis=2)
    values = ops.concatenate([past_values, qkv[2]], axis=2)
    p = ops.shape(past_keys)[2]
    scores = ops.cast(
        ops.matmul(qkv[0], ops.transpose(keys, (0, 1, 3, 2))) / math.sqrt(dh), "float32"
    )
    query_position = p + ops.arange(n)  # new token i sits at position p + i
    keep = ops.arange(p + n)[None, :] <= query_position[:, None]  # (n, p+n)
    scores = ops.where(keep, scores, ops.full_like(scores, -1e9))
    weights = ops.cast(ops.softmax(scores, axis=-1), attention.compute_dtype)
    heads = ops.transpose(ops.matmul(weights, values), (0, 2, 1, 3))  # (b, n, h, dh)
    return attention.out(ops.reshape(heads, (b, n, h * dh))), keys, values


def block_with_cache(block, x, past_keys, past_values):
    """One pre-layer-norm ``TransformerBlock`` on the new positions x (b, n, d) → (x, keys,
    values)."""
    attended, keys, values = attend_with_cache(
        block.attention, block.ln1(x), past_keys, past_values
    )
    x = x + attended
    x = x + block.mlp_out(block.mlp_hidden(block.ln2(x)))
    return x, keys, values


def gpt_with_cache(model, token_ids, cache):
    """The GPT on new tokens only: token_ids (b, n) after the p cached ones → (logits (b, n, v), new
    cache).

    cache: (L, 2, b, h, p, dh) from :func:`empty_cache` or a previous call; the new tokens take
    positions p … p+n−1, so p + n must not exceed the model's context T.
    """
    p, n = ops.shape(cache)[4], ops.shape(token_ids)[1]
    x = (
        model.token_embedding(token_ids)
        + ops.cast(model.position_embedding[p : p + n], model.compute_dtype)[None]
    )
    layers = []
    for index, block in enumerate(model.blocks):
        x, keys, values = block_with_cache(block, x, cache[index, 0], cache[index, 1])
        layers.append(ops.stack([keys, values]))
    x = model.final_norm(x)
    # tied head
    logits = ops.matmul(x, ops.transpose(ops.cast(model.token_embedding.embeddings, x.dtype)))
    return ops.cast(logits, "float32"), ops.stack(layers)


def empty_cache(model, batch_size: int):
    """A cache holding nothing yet: zeros of shape (L, 2, b, h, 0, dh) in the model's compute
    dtype."""
    c = model.config
    shape = (
        c.num_layers,
        2,
        require_positive_int(batch_size, "batch_size"),
        c.num_heads,
        0,
        c.d_model // c.num_heads,
    )
    return ops.zeros(shape, model.compute_dtype)


def cached_forward(model, token_ids, cache=None):
    """:func:`gpt_with_cache` compiled once per model (any b, n, p): returns (logits (b, n, v),
    cache).

    ``cache=None`` starts from nothing (the prompt's "prefill"). Raises ``ValueError`` when the
    tokens would run past the model's context or the cache does not fit the model or the batch.
    """
    token_ids = as_array(token_ids, "token_ids", ndim=2, dtype="int").astype("int32")
    b, n = token_ids.shape
    if n == 0:
        raise ValueError("token_ids must hold at least one new token, got shape (b, 0)")
    cache = empty_cache(model, b) if cache is None else cache
    c = model.config
    expected = (c.num_layers, 2, b, c.num_heads, c.d_model // c.num_heads)
    if len(cache.shape) != 6 or tuple(cache.shape[:4]) + (cache.shape[5],) != expected:
        raise ValueError(
            f"cache must have shape (L, 2, b, h, p, dh) = {expected[:4] + ('p',) + expected[4:]} "
            "for "
            f"this model and {b} sequence(s), got {tuple(cache.shape)}"
        )
    if cache.shape[4] + n > model.config.sequence_length:
        raise ValueError(
            f"{cache.shape[4]} cached + {n} new tokens exceed the model's context of "
            f"{model.config.sequence_length} positions (learned positions end there)"
        )
    spec = tf.TensorSpec(
        (c.num_layers, 2, None, c.num_heads, None, c.d_model // c.num_heads), cache.dtype
    )
    function = compiled(model, gpt_with_cache, tf.TensorSpec((None, None), tf.int32), spec)
    return function(token_ids, cache)


def cached_next_token_logits(model, token_ids, cache=None):
    """Logits (b, v) of the token after ``token_ids`` (b, t), and the cache of ``token_ids``:
    (logits, cache).

    ``cache`` must hold the first p < t tokens of ``token_ids`` (from the previous call) or be
    None; only tokens p … t−1 are run. Equal, to float rounding, to :func:`next_token_logits`; a
    ``next_logits`` for :func:`tinyllm.sampling.generate`, which hands the cache from step to step.
    Past the context (t > T) the window slides and nothing cached stays valid — the whole
    window is recomputed and the cache returned is None. Two reasons: in every block after the
    first, each cached key and value was computed from a position that had attended to the
    token now evicted (so no position scheme allows exact reuse), and with learned absolute
    positions every kept token also moves to a new position embedding.
    """
    token_ids = as_array(token_ids, "token_ids", ndim=2, dtype="int").astype("int32")
    t = token_ids.shape[1]
    if t > model.config.sequence_length:
        return next_token_logits(model, token_ids), None
    past = 0 if cache is None else int(cache.shape[4])
    if cache is not None and (past >= t or cache.shape[2] != token_ids.shape[0]):
        raise ValueError(
            f"the cache holds {past} positions of {cache.shape[2]} sequence(s); token_ids "
            f"{token_ids.shape} must extend it by at least one token"
        )
    logits, cache = cached_forward(model, token_ids[:, past:], cache)
    return logits[:, -1, :], cache
