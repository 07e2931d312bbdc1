"""Chapter 4: the classic attention mistakes, each of which the public cases must catch."""

import math

import numpy as np
import tensorflow as tf


# --- causal mask
def causal_mask_strict(n):  # off by one: the diagonal dropped, a token cannot see itself
    return np.tril(np.ones((n, n), bool), k=-1)


def causal_mask_upper(n):  # transposed: queries see the future
    return np.triu(np.ones((n, n), bool))


def causal_mask_inverted(n):  # True = "masked out" instead of True = "may attend"
    return ~np.tril(np.ones((n, n), bool))


def causal_mask_one_ahead(n):  # off by one the other way: sees the next token too
    return np.tril(np.ones((n, n), bool), k=1)


def causal_mask_additive(n):  # an additive 0/-inf mask is a different convention
    return np.where(np.tril(np.ones((n, n), bool)), 0.0, -np.inf)


# --- scaled dot-product attention
def _softmax(s, axis=-1):
    s = s - s.max(axis=axis, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=axis, keepdims=True)


def _attention(q, k, v, mask, scale, axis=-1, softmax=_softmax, fill=-np.inf):
    s = np.asarray(q, np.float64) @ np.swapaxes(np.asarray(k, np.float64), -1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, fill)
    w = softmax(s, axis)
    return w @ v, w


def attention_without_scale(q, k, v, mask=None):
    return _attention(q, k, v, mask, 1.0)


def attention_divides_by_dk(q, k, v, mask=None):  # 1/d_k instead of 1/√d_k
    return _attention(q, k, v, mask, 1.0 / np.shape(q)[-1])


def attention_scales_by_dv(q, k, v, mask=None):  # √ of the value depth
    return _attention(q, k, v, mask, 1.0 / math.sqrt(np.shape(v)[-1]))


def attention_softmax_over_queries(q, k, v, mask=None):
    return _attention(q, k, v, mask, 1.0 / math.sqrt(np.shape(q)[-1]), axis=-2)


def attention_mask_inverted(q, k, v, mask=None):
    return _attention(
        q,
        k,
        v,
        None if mask is None else ~np.asarray(mask, bool),
        1.0 / math.sqrt(np.shape(q)[-1]),
        fill=-1e9,
    )


def attention_unstable_softmax(q, k, v, mask=None):
    def naive(s, axis):
        e = np.exp(s)
        return e / e.sum(axis=axis, keepdims=True)

    with np.errstate(all="ignore"):
        return _attention(q, k, v, mask, 1.0 / math.sqrt(np.shape(q)[-1]), softmax=naive)


def attention_mask_multiplies_scores(q, k, v, mask=None):  # a zero score is not "no attention"
    s = np.asarray(q, np.float64) @ np.swapaxes(k, -1, -2) / math.sqrt(np.shape(q)[-1])
    if mask is not None:
        s = s * mask
    w = _softmax(s)
    return w @ v, w


def attention_mask_after_softmax(q, k, v, mask=None):  # zeroed but not renormalised
    w = _softmax(np.asarray(q, np.float64) @ np.swapaxes(k, -1, -2) / math.sqrt(np.shape(q)[-1]))
    if mask is not None:
        w = w * mask
    return w @ v, w


def attention_full_transpose(q, k, v, mask=None):  # k.T reverses every axis of a batch
    s = np.asarray(q, np.float64) @ np.asarray(k, np.float64).T / math.sqrt(np.shape(q)[-1])
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    w = _softmax(s)
    return w @ v, w


def attention_returns_scores(q, k, v, mask=None):  # weights before the softmax
    s = np.asarray(q, np.float64) @ np.swapaxes(k, -1, -2) / math.sqrt(np.shape(q)[-1])
    if mask is not None:
        s = np.where(mask, s, -1e9)
    return _softmax(s) @ v, s


# --- sinusoidal positional encoding
def _angles(length, depth, exponent):
    pos = np.arange(length)[:, None]
    return pos / np.power(10000.0, exponent(np.arange(depth)) / depth)


def sinusoid_sin_cos_swapped(length, depth):
    a = _angles(length, depth, lambda j: 2 * (j // 2))
    return np.where(np.arange(depth) % 2 == 0, np.cos(a), np.sin(a)).astype(np.float32)


def sinusoid_column_index_exponent(length, depth):  # uses j instead of 2i = 2(j // 2)
    a = _angles(length, depth, lambda j: j)
    return np.where(np.arange(depth) % 2 == 0, np.sin(a), np.cos(a)).astype(np.float32)


def sinusoid_concatenated_halves(length, depth):  # [sin … | cos …] instead of interleaved
    pos = np.arange(length)[:, None]
    a = pos / np.power(10000.0, np.arange(0, depth, 2) / depth)
    return np.concatenate([np.sin(a), np.cos(a)], axis=1).astype(np.float32)


def sinusoid_positions_from_one(length, depth):
    a = (np.arange(1, length + 1)[:, None]) / np.power(10000.0, 2 * (np.arange(depth) // 2) / depth)
    return np.where(np.arange(depth) % 2 == 0, np.sin(a), np.cos(a)).astype(np.float32)


def sinusoid_wrong_base(length, depth):
    a = np.arange(length)[:, None] / np.power(1000.0, 2 * (np.arange(depth) // 2) / depth)
    return np.where(np.arange(depth) % 2 == 0, np.sin(a), np.cos(a)).astype(np.float32)


def sinusoid_transposed(length, depth):
    a = np.arange(length)[:, None] / np.power(10000.0, 2 * (np.arange(depth) // 2) / depth)
    return np.where(np.arange(depth) % 2 == 0, np.sin(a), np.cos(a)).T.astype(np.float32)


# --- multi-head self-attention
def _mha(x, wq, wk, wv, wo, h, mask, split, merge, scale_depth=None, use_wo=True):
    x = np.asarray(x, np.float64)
    b, t, d = x.shape
    q, k, v = (split(x @ w, b, t, h, d // h) for w in (wq, wk, wv))
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(scale_depth or d // h)
    if mask is not None:
        mask = np.asarray(mask)
        s = np.where(mask[:, None] if mask.ndim == 3 else mask, s, -np.inf)
    out = merge(_softmax(s) @ v, b, t, d)
    return out @ wo if use_wo else out


def _split(y, b, t, h, dh):
    return y.reshape(b, t, h, dh).transpose(0, 2, 1, 3)


def _merge(y, b, t, d):
    return y.transpose(0, 2, 1, 3).reshape(b, t, d)


# reshape straight to (b, h, t, dh)
def mha_split_without_transpose(x, wq, wk, wv, wo, num_heads, mask=None):
    return _mha(
        x, wq, wk, wv, wo, num_heads, mask, lambda y, b, t, h, dh: y.reshape(b, h, t, dh), _merge
    )


# head i takes every h-th column
def mha_heads_interleaved(x, wq, wk, wv, wo, num_heads, mask=None):
    return _mha(
        x,
        wq,
        wk,
        wv,
        wo,
        num_heads,
        mask,
        lambda y, b, t, h, dh: y.reshape(b, t, dh, h).transpose(0, 3, 1, 2),
        _merge,
    )


def mha_merge_without_transpose(x, wq, wk, wv, wo, num_heads, mask=None):
    return _mha(x, wq, wk, wv, wo, num_heads, mask, _split, lambda y, b, t, d: y.reshape(b, t, d))


def mha_scaled_by_model_depth(x, wq, wk, wv, wo, num_heads, mask=None):  # √d instead of √(d/h)
    return _mha(x, wq, wk, wv, wo, num_heads, mask, _split, _merge, scale_depth=np.shape(x)[-1])


def mha_forgets_output_projection(x, wq, wk, wv, wo, num_heads, mask=None):
    return _mha(x, wq, wk, wv, wo, num_heads, mask, _split, _merge, use_wo=False)


def mha_ignores_heads(x, wq, wk, wv, wo, num_heads, mask=None):  # one big head
    return _mha(x, wq, wk, wv, wo, 1, mask, _split, _merge)


# --- transformer block (pre-layer-norm, attention with biases, exact GELU, LN ε = 1e-5)
def _erf_gelu(z):
    return 0.5 * z * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(z / math.sqrt(2.0)))


def _tanh_gelu(z):  # GPT-2's original approximation, a different function
    return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))


def _ln(x, gamma, beta, eps=1e-5, ddof=0):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True, ddof=ddof) + eps) * gamma + beta


def _block(
    x,
    params,
    num_heads,
    causal,
    norm="pre",
    gelu=_erf_gelu,
    eps=1e-5,
    ddof=0,
    scale_depth=None,
    attention_residual="x",
    mlp_residual=True,
    biases=True,
    second_ln="ln2",
    mask="causal-flag",
    split=_split,
):
    x = np.asarray(x, np.float64)
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    b, t, d = x.shape
    h, dh = num_heads, d // num_heads

    def bias(key):
        return p[key] if biases else 0.0

    def ln(y, which):
        return _ln(y, p[which + "_gamma"], p[which + "_beta"], eps, ddof)

    def attention(y):
        q, k, v = (split(y @ p["w" + n] + bias("b" + n), b, t, h, dh) for n in "qkv")
        s = q @ np.swapaxes(k, -1, -2) / math.sqrt(scale_depth or dh)
        if (mask == "causal-flag" and causal) or mask == "always":
            s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
        return _merge(_softmax(s) @ v, b, t, d) @ p["wo"] + bias("bo")

    def mlp(y):
        return gelu(y @ p["w1"] + bias("b1")) @ p["w2"] + bias("b2")

    if norm == "post":  # the 2017 paper's arrangement: normalise after each residual sum
        h1 = ln(x + attention(x), "ln1")
        return ln(h1 + mlp(h1), second_ln)
    normed = ln(x, "ln1")
    attended = attention(normed)
    h1 = {"x": x + attended, "normed": normed + attended, None: attended}[attention_residual]
    out = mlp(ln(h1, second_ln))
    return h1 + out if mlp_residual else out


# LN(x + MHA(x)): the 2017 paper, not GPT-2
def block_post_norm(x, params, num_heads, causal=False):
    return _block(x, params, num_heads, causal, norm="post")


def block_tanh_gelu(x, params, num_heads, causal=False):
    return _block(x, params, num_heads, causal, gelu=_tanh_gelu)


# LayerNormalization()'s ε = 1e-3
def block_keras_default_epsilon(x, params, num_heads, causal=False):
    return _block(x, params, num_heads, causal, eps=1e-3)


def block_no_epsilon(x, params, num_heads, causal=False):
    return _block(x, params, num_heads, causal, eps=0.0)


def block_unbiased_variance(x, params, num_heads, causal=False):  # ddof=1, as torch.var defaults to
    return _block(x, params, num_heads, causal, ddof=1)


def block_ignores_causal(x, params, num_heads, causal=False):
    return _block(x, params, num_heads, causal, mask="never")


def block_always_causal(x, params, num_heads, causal=False):
    return _block(x, params, num_heads, causal, mask="always")


def block_scaled_by_model_depth(x, params, num_heads, causal=False):  # √d instead of √(d/h)
    return _block(x, params, num_heads, causal, scale_depth=np.shape(x)[-1])


def block_heads_interleaved(x, params, num_heads, causal=False):  # head i takes every h-th column
    return _block(
        x,
        params,
        num_heads,
        causal,
        split=lambda y, b, t, h, dh: y.reshape(b, t, dh, h).transpose(0, 3, 1, 2),
    )


def block_no_attention_residual(x, params, num_heads, causal=False):  # h = MHA(LN₁(x))
    return _block(x, params, num_heads, causal, attention_residual=None)


def block_residual_from_normalised(x, params, num_heads, causal=False):  # h = LN₁(x) + MHA(LN₁(x))
    return _block(x, params, num_heads, causal, attention_residual="normed")


def block_no_mlp_residual(x, params, num_heads, causal=False):  # out = MLP(LN₂(h))
    return _block(x, params, num_heads, causal, mlp_residual=False)


def block_forgets_biases(x, params, num_heads, causal=False):  # multi_head_self_attention had none
    return _block(x, params, num_heads, causal, biases=False)


# LN₁'s γ, β before the MLP too
def block_reuses_first_layer_norm(x, params, num_heads, causal=False):
    return _block(x, params, num_heads, causal, second_ln="ln1")


def block_relu(x, params, num_heads, causal=False):
    return _block(x, params, num_heads, causal, gelu=lambda z: np.maximum(z, 0.0))


MUTANTS = {
    "ch04.causal_mask": [
        causal_mask_strict,
        causal_mask_upper,
        causal_mask_inverted,
        causal_mask_one_ahead,
        causal_mask_additive,
    ],
    "ch04.scaled_dot_product_attention": [
        attention_without_scale,
        attention_divides_by_dk,
        attention_scales_by_dv,
        attention_softmax_over_queries,
        attention_mask_inverted,
        attention_unstable_softmax,
        attention_mask_multiplies_scores,
        attention_mask_after_softmax,
        attention_full_transpose,
        attention_returns_scores,
    ],
    "ch04.sinusoidal_positional_encoding": [
        sinusoid_sin_cos_swapped,
        sinusoid_column_index_exponent,
        sinusoid_concatenated_halves,
        sinusoid_positions_from_one,
        sinusoid_wrong_base,
        sinusoid_transposed,
    ],
    "ch04.multi_head_self_attention": [
        mha_split_without_transpose,
        mha_heads_interleaved,
        mha_merge_without_transpose,
        mha_scaled_by_model_depth,
        mha_forgets_output_projection,
        mha_ignores_heads,
    ],
    "ch04.transformer_block": [
        block_post_norm,
        block_tanh_gelu,
        block_keras_default_epsilon,
        block_no_epsilon,
        block_unbiased_variance,
        block_ignores_causal,
        block_always_causal,
        block_scaled_by_model_depth,
        block_heads_interleaved,
        block_no_attention_residual,
        block_residual_from_normalised,
        block_no_mlp_residual,
        block_forgets_biases,
        block_reuses_first_layer_norm,
        block_relu,
    ],
}


# --- correct answers written differently from the reference
def causal_mask_compare(n):
    i = np.arange(n)
    return (i[:, None] >= i[None, :]).astype(int)  # 0/1 ints are fine


def attention_tensorflow(q, k, v, mask=None):
    q, k, v = (tf.constant(a, tf.float32) for a in (q, k, v))
    s = tf.matmul(q, k, transpose_b=True) / tf.sqrt(tf.cast(tf.shape(q)[-1], tf.float32))
    if mask is not None:
        s += (
            1.0 - tf.cast(mask, tf.float32)
        ) * -1e9  # the additive mask of the original Transformer code
    w = tf.nn.softmax(s, axis=-1)
    return tf.matmul(w, v), w


def attention_einsum(q, k, v, mask=None):
    s = np.einsum("...qd,...kd->...qk", q, k) / np.sqrt(np.shape(q)[-1])
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    w = w / w.sum(-1, keepdims=True)
    return [np.einsum("...qk,...kv->...qv", w, v), w]


def sinusoid_loop(length, depth):
    table = np.zeros((length, depth), np.float32)
    for pos in range(length):
        for i in range(0, depth, 2):
            angle = pos / 10000 ** (i / depth)
            table[pos, i] = math.sin(angle)
            table[pos, i + 1] = math.cos(angle)
    return table


def mha_per_head_loop(x, wq, wk, wv, wo, num_heads, mask=None):
    d = np.shape(x)[-1]
    dh = d // num_heads
    heads = []
    for i in range(num_heads):
        cols = slice(i * dh, (i + 1) * dh)
        heads.append(attention_einsum(x @ wq[:, cols], x @ wk[:, cols], x @ wv[:, cols], mask)[0])
    return np.concatenate(heads, axis=-1) @ wo


def mha_keras_layer(x, wq, wk, wv, wo, num_heads, mask=None):
    import keras

    d = np.shape(x)[-1]
    layer = keras.layers.MultiHeadAttention(num_heads, d // num_heads, use_bias=False)
    layer(x, x)
    layer.set_weights(
        [w.reshape(d, num_heads, d // num_heads) for w in (wq, wk, wv)]
        + [wo.reshape(num_heads, d // num_heads, d)]
    )
    if mask is not None:
        mask = np.broadcast_to(mask, (np.shape(x)[0],) + np.shape(mask)[-2:])
    return layer(x, x, attention_mask=mask)


def block_float64_einsum(x, params, num_heads, causal=False):
    x = np.asarray(x, np.float64)
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    t, d = x.shape[1], x.shape[2]
    dh = d // num_heads

    def layer_norm(y, gamma, beta):
        centred = y - y.mean(axis=-1, keepdims=True)
        return centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + 1e-5) * gamma + beta

    y = layer_norm(x, p["ln1_gamma"], p["ln1_beta"])
    q, k, v = (np.einsum("btd,de->bte", y, p["w" + n]) + p["b" + n] for n in "qkv")
    q, k, v = (a.reshape(a.shape[0], t, num_heads, dh) for a in (q, k, v))
    scores = np.einsum("bqhe,bkhe->bhqk", q, k) / np.sqrt(dh)
    if causal:
        # an additive −∞ above the diagonal
        scores = scores + np.triu(np.full((t, t), -np.inf), k=1)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    heads = np.einsum("bhqk,bkhe->bqhe", weights, v).reshape(x.shape)
    h = x + np.einsum("btd,de->bte", heads, p["wo"]) + p["bo"]
    z = np.einsum("btd,dm->btm", layer_norm(h, p["ln2_gamma"], p["ln2_beta"]), p["w1"]) + p["b1"]
    gelu = 0.5 * z * (1 + np.vectorize(math.erf)(z / np.sqrt(2)))
    return h + np.einsum("btm,md->btd", gelu, p["w2"]) + p["b2"]


# float32 throughout, one head at a time
def block_float32_head_loop(x, params, num_heads, causal=False):
    x = np.asarray(x, np.float32)
    p = {k: np.asarray(v, np.float32) for k, v in params.items()}
    t, d = x.shape[1], x.shape[2]
    dh = d // num_heads

    def layer_norm(y, gamma, beta):
        return (y - y.mean(-1, keepdims=True)) / np.sqrt(
            y.var(-1, keepdims=True) + np.float32(1e-5)
        ) * gamma + beta

    y = layer_norm(x, p["ln1_gamma"], p["ln1_beta"])
    q, k, v = (y @ p["w" + n] + p["b" + n] for n in "qkv")
    heads = []
    for i in range(num_heads):
        cols = slice(i * dh, (i + 1) * dh)
        s = q[..., cols] @ np.swapaxes(k[..., cols], -1, -2) / np.float32(math.sqrt(dh))
        if causal:
            s = np.where(np.arange(t)[None, :] <= np.arange(t)[:, None], s, np.float32(-1e30))
        w = np.exp(s - s.max(-1, keepdims=True))
        heads.append((w / w.sum(-1, keepdims=True)) @ v[..., cols])
    h = x + np.concatenate(heads, axis=-1) @ p["wo"] + p["bo"]
    z = layer_norm(h, p["ln2_gamma"], p["ln2_beta"]) @ p["w1"] + p["b1"]
    erf = np.array(
        [math.erf(value) for value in (z / np.float32(math.sqrt(2))).ravel()], np.float32
    ).reshape(z.shape)
    return h + (np.float32(0.5) * z * (1 + erf)) @ p["w2"] + p["b2"]


def block_keras_ops(x, params, num_heads, causal=False):  # float32 Keras ops and layers
    import keras
    from keras import ops

    p = {k: ops.convert_to_tensor(np.asarray(v, np.float32)) for k, v in params.items()}
    x = ops.convert_to_tensor(np.asarray(x, np.float32))
    b, t, d = x.shape
    dh = d // num_heads

    def layer_norm(y, which):
        layer = keras.layers.LayerNormalization(epsilon=1e-5)
        layer.build(y.shape)
        layer.set_weights([params[which + "_gamma"], params[which + "_beta"]])
        return layer(y)

    def split(y):
        return ops.transpose(ops.reshape(y, (b, t, num_heads, dh)), (0, 2, 1, 3))

    y = layer_norm(x, "ln1")
    q, k, v = (split(ops.matmul(y, p["w" + n]) + p["b" + n]) for n in "qkv")
    s = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(dh)
    if causal:
        s = ops.where(ops.tril(ops.ones((t, t), "bool")), s, -1e9)
    heads = ops.transpose(ops.matmul(ops.softmax(s, axis=-1), v), (0, 2, 1, 3))
    h = x + ops.matmul(ops.reshape(heads, (b, t, d)), p["wo"]) + p["bo"]
    hidden = ops.gelu(ops.matmul(layer_norm(h, "ln2"), p["w1"]) + p["b1"], approximate=False)
    return h + ops.matmul(hidden, p["w2"]) + p["b2"]


ALTERNATIVES = {
    "ch04.causal_mask": [causal_mask_compare],
    "ch04.scaled_dot_product_attention": [attention_tensorflow, attention_einsum],
    "ch04.sinusoidal_positional_encoding": [sinusoid_loop],
    "ch04.multi_head_self_attention": [mha_per_head_loop, mha_keras_layer],
    "ch04.transformer_block": [block_float64_einsum, block_float32_head_loop, block_keras_ops],
}
