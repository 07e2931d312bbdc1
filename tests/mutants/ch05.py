"""Chapter 5: the classic mistakes, each of which the public cases must catch."""

import math

import numpy as np
import tensorflow as tf


# --- lm_inputs_and_targets
def lm_swapped(token_ids):
    t = np.asarray(token_ids)
    return t[:, 1:], t[:, :-1]


def lm_batch_axis(token_ids):  # shifts along the batch instead of time
    t = np.asarray(token_ids)
    return t[:-1], t[1:]


def lm_no_shift(token_ids):  # targets = inputs: the model learns to copy
    t = np.asarray(token_ids)
    return t[:, :-1], t[:, :-1]


def lm_roll(token_ids):  # wraps the first token round to the end, keeps length t+1
    t = np.asarray(token_ids)
    return t, np.roll(t, -1, axis=1)


def lm_off_by_two(token_ids):
    t = np.asarray(token_ids)
    return t[:, :-2], t[:, 2:]


def lm_flattened(token_ids):  # one long sequence instead of b windows
    t = np.asarray(token_ids).ravel()
    return t[:-1], t[1:]


# --- top_k_logits
def top_k_zero_fill(logits, k):
    z = np.asarray(logits)
    kth = np.sort(z, axis=1)[:, -k][:, None]
    return np.where(z >= kth, z, 0.0)


def top_k_smallest(logits, k):
    z = np.asarray(logits)
    kth = np.sort(z, axis=1)[:, k - 1][:, None]
    return np.where(z <= kth, z, -np.inf)


def top_k_global(logits, k):  # one threshold for the whole batch
    z = np.asarray(logits)
    kth = np.sort(z, axis=None)[-k]
    return np.where(z >= kth, z, -np.inf)


def top_k_off_by_one(logits, k):
    z = np.asarray(logits)
    kth = np.sort(z, axis=1)[:, -k - 1 if k < z.shape[1] else 0][:, None]
    return np.where(z > kth, z, -np.inf) if k < z.shape[1] else z


def top_k_exactly_k(logits, k):  # drops ties with the k-th value
    z = np.asarray(logits)
    keep = np.argsort(-z, axis=1, kind="stable")[:, :k]
    out = np.full_like(z, -np.inf)
    np.put_along_axis(out, keep, np.take_along_axis(z, keep, axis=1), axis=1)
    return out


def top_k_values_only(logits, k):  # returns the k values, not the filtered row
    return tf.math.top_k(tf.constant(logits), k).values


def top_k_large_negative(logits, k):  # -1e9 is not -inf
    z = np.asarray(logits)
    kth = np.sort(z, axis=1)[:, -k][:, None]
    return np.where(z >= kth, z, -1e9)


# --- top_p_logits
def _softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _nucleus(z, p, keep_rule):
    z = np.asarray(z)
    probabilities = _softmax(z)
    order = np.argsort(-probabilities, axis=1)
    sorted_p = np.take_along_axis(probabilities, order, axis=1)
    keep_sorted = keep_rule(sorted_p, p)
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=1)
    return np.where(keep, z, -np.inf)


def top_p_excludes_crossing_token(logits, p):  # cumsum <= p: the token that reaches p is dropped
    return _nucleus(logits, p, lambda s, p: np.cumsum(s, axis=1) <= p)


def top_p_no_sort(logits, p):  # cumulates in vocabulary order
    z = np.asarray(logits)
    probabilities = _softmax(z)
    before = np.cumsum(probabilities, axis=1) - probabilities
    return np.where(before < p, z, -np.inf)


def top_p_no_softmax(logits, p):  # treats logits as probabilities
    z = np.asarray(logits, np.float64)
    order = np.argsort(-z, axis=1)
    s = np.take_along_axis(z, order, axis=1)
    keep_sorted = np.cumsum(s, axis=1) - s < p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=1)
    return np.where(keep, z, -np.inf)


def top_p_sorted_output(logits, p):  # forgets to put the result back in vocabulary order
    z = np.asarray(logits)
    s = -np.sort(-z, axis=1)
    probabilities = _softmax(s)
    before = np.cumsum(probabilities, axis=1) - probabilities
    return np.where(before < p, s, -np.inf)


def top_p_zero_fill(logits, p):
    out = _nucleus(logits, p, lambda s, p: np.cumsum(s, axis=1) - s < p)
    return np.where(np.isinf(out), 0.0, out)


def top_p_probability_threshold(logits, p):  # keeps tokens whose own probability is ≥ 1 - p
    z = np.asarray(logits)
    return np.where(_softmax(z) >= 1 - p, z, -np.inf)


# --- perplexity
def _log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _token_log_p(y, logits):
    return np.take_along_axis(_log_softmax(logits), np.asarray(y)[..., None], axis=-1)[..., 0]


def perplexity_no_exp(y_true, logits):  # the cross-entropy itself
    return -_token_log_p(y_true, logits).mean()


def perplexity_sum(y_true, logits):  # exp of the summed cross-entropy
    return np.exp(-_token_log_p(y_true, logits).sum())


def perplexity_log2(y_true, logits):  # bits, then e^
    return np.exp(-_token_log_p(y_true, logits).mean() / np.log(2))


def perplexity_mean_of_sequences(y_true, logits):  # mean of per-sequence perplexities
    return np.exp(-_token_log_p(y_true, logits).mean(axis=-1)).mean()


def perplexity_mean_of_positions(y_true, logits):  # mean of e^(ce) per position
    return np.exp(-_token_log_p(y_true, logits)).mean()


def perplexity_naive_softmax(y_true, logits):  # e^z overflows for large logits
    z = np.asarray(logits, np.float32)
    with np.errstate(all="ignore"):
        p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
        return np.exp(-np.log(np.take_along_axis(p, np.asarray(y_true)[..., None], axis=-1)).mean())


def perplexity_shifted(y_true, logits):  # shifts targets again
    y, z = np.asarray(y_true), np.asarray(logits)
    return np.exp(-_token_log_p(y[:, 1:], z[:, :-1]).mean())


# --- gpt_forward: a NumPy GPT, self-contained (a learner's cell cannot call chapter 4's answer)
def _gpt_layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps) * gamma + beta


def _gpt_block(x, p, num_heads, causal, eps):
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    b, t, d = x.shape
    dh = d // num_heads
    y = _gpt_layer_norm(x, p["ln1_gamma"], p["ln1_beta"], eps)
    q, k, v = (
        (y @ p["w" + n] + p["b" + n]).reshape(b, t, num_heads, dh).transpose(0, 2, 1, 3)
        for n in "qkv"
    )
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)
    if causal:
        s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    heads = (w / w.sum(-1, keepdims=True)) @ v
    x = x + heads.transpose(0, 2, 1, 3).reshape(b, t, d) @ p["wo"] + p["bo"]
    z = _gpt_layer_norm(x, p["ln2_gamma"], p["ln2_beta"], eps) @ p["w1"] + p["b1"]
    gelu = 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    return x + gelu @ p["w2"] + p["b2"]


def _gpt(
    token_ids,
    params,
    num_heads,
    positions="P[:t]",
    scale=1.0,
    causal=True,
    chained=True,
    final_norm=True,
    eps=1e-5,
    head="E.T",
    output="logits",
):
    ids = np.asarray(token_ids)
    E = np.asarray(params["token_embedding"], np.float64)
    P = np.asarray(params["position_embedding"], np.float64)
    v, d = E.shape
    t = ids.shape[1]
    x = scale * E[ids]
    if positions is not None:
        x = x + {"P[:t]": lambda: P[:t], "P": lambda: P, "P[ids]": lambda: P[ids]}[positions]()
    embedded = x
    for block in params["blocks"]:
        x = _gpt_block(x if chained else embedded, block, num_heads, causal, eps)
    if final_norm:
        x = _gpt_layer_norm(
            x, np.asarray(params["final_gamma"]), np.asarray(params["final_beta"]), eps
        )
    logits = x @ (E.T if head == "E.T" else E.reshape(d, v))
    if output in ("probabilities", "log-probabilities"):
        shifted = logits - logits.max(-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        return np.exp(log_p) if output == "probabilities" else log_p
    return logits[:, -1] if output == "last" else logits


# x = E[ids]: the model cannot tell positions apart
def gpt_no_positions(token_ids, params, num_heads):
    return _gpt(token_ids, params, num_heads, positions=None)


def gpt_whole_position_table(token_ids, params, num_heads):  # P, not P[:t]
    return _gpt(token_ids, params, num_heads, positions="P")


def gpt_positions_by_token_id(token_ids, params, num_heads):  # P[ids]: a second token embedding
    return _gpt(token_ids, params, num_heads, positions="P[ids]")


# √d·E[ids], as chapter 4's encoder–decoder does
def gpt_scales_embeddings(token_ids, params, num_heads):
    return _gpt(
        token_ids, params, num_heads, scale=math.sqrt(np.shape(params["token_embedding"])[1])
    )


def gpt_not_causal(token_ids, params, num_heads):  # the blocks' default causal=False
    return _gpt(token_ids, params, num_heads, causal=False)


def gpt_blocks_not_chained(token_ids, params, num_heads):  # every block reads the embeddings
    return _gpt(token_ids, params, num_heads, chained=False)


def gpt_no_final_norm(token_ids, params, num_heads):
    return _gpt(token_ids, params, num_heads, final_norm=False)


def gpt_keras_default_epsilon(token_ids, params, num_heads):  # LayerNormalization()'s ε = 1e-3
    return _gpt(token_ids, params, num_heads, eps=1e-3)


def gpt_head_reshaped(token_ids, params, num_heads):  # E.reshape(d, v) is not Eᵀ
    return _gpt(token_ids, params, num_heads, head="reshape")


def gpt_returns_probabilities(token_ids, params, num_heads):  # softmax(logits)
    return _gpt(token_ids, params, num_heads, output="probabilities")


# log_softmax(logits): shifted per row
def gpt_returns_log_probabilities(token_ids, params, num_heads):
    return _gpt(token_ids, params, num_heads, output="log-probabilities")


# what generation needs, not the forward pass
def gpt_last_position_only(token_ids, params, num_heads):
    return _gpt(token_ids, params, num_heads, output="last")


MUTANTS = {
    "ch05.lm_inputs_and_targets": [
        lm_swapped,
        lm_batch_axis,
        lm_no_shift,
        lm_roll,
        lm_off_by_two,
        lm_flattened,
    ],
    "ch05.top_k_logits": [
        top_k_zero_fill,
        top_k_smallest,
        top_k_global,
        top_k_off_by_one,
        top_k_exactly_k,
        top_k_values_only,
        top_k_large_negative,
    ],
    "ch05.top_p_logits": [
        top_p_excludes_crossing_token,
        top_p_no_sort,
        top_p_no_softmax,
        top_p_sorted_output,
        top_p_zero_fill,
        top_p_probability_threshold,
    ],
    "ch05.perplexity": [
        perplexity_no_exp,
        perplexity_sum,
        perplexity_log2,
        perplexity_mean_of_sequences,
        perplexity_mean_of_positions,
        perplexity_naive_softmax,
        perplexity_shifted,
    ],
    "ch05.gpt_forward": [
        gpt_no_positions,
        gpt_whole_position_table,
        gpt_positions_by_token_id,
        gpt_scales_embeddings,
        gpt_not_causal,
        gpt_blocks_not_chained,
        gpt_no_final_norm,
        gpt_keras_default_epsilon,
        gpt_head_reshaped,
        gpt_returns_probabilities,
        gpt_returns_log_probabilities,
        gpt_last_position_only,
    ],
}


# --- correct answers written differently from the reference
def lm_tensorflow(token_ids):
    t = tf.constant(token_ids)
    return [t[:, :-1], t[:, 1:]]


def top_k_tensorflow(logits, k):
    z = tf.constant(logits)
    kth = tf.math.top_k(z, k).values[:, -1:]
    return tf.where(z >= kth, z, tf.fill(tf.shape(z), float("-inf")))


def top_k_partition(logits, k):
    z = np.asarray(logits, np.float64)
    kth = np.partition(z, z.shape[1] - k, axis=1)[:, z.shape[1] - k][:, None]
    return np.where(z >= kth, z, -np.inf).tolist()


def top_p_tensorflow(logits, p):
    z = tf.constant(logits)
    order = tf.argsort(z, axis=-1, direction="DESCENDING", stable=True)
    sorted_z = tf.gather(z, order, batch_dims=1)
    before = tf.math.cumsum(tf.nn.softmax(sorted_z), axis=-1, exclusive=True)
    keep_sorted = before < p
    keep = tf.scatter_nd(
        tf.stack(
            [tf.repeat(tf.range(tf.shape(z)[0]), tf.shape(z)[1]), tf.reshape(order, [-1])], axis=1
        ),
        tf.reshape(keep_sorted, [-1]),
        tf.shape(z),
    )
    return tf.where(keep, z, tf.fill(tf.shape(z), float("-inf")))


def top_p_loop(logits, p):
    out = []
    for row in np.asarray(logits, np.float64):
        probabilities = np.exp(row - row.max())
        probabilities /= probabilities.sum()
        kept, mass = set(), 0.0
        for j in sorted(range(len(row)), key=lambda j: -probabilities[j]):
            if mass >= p:
                break
            kept.add(j)
            mass += probabilities[j]
        out.append([x if j in kept else -np.inf for j, x in enumerate(row)])
    return np.array(out)


def perplexity_keras(y_true, logits):
    ce = tf.keras.losses.sparse_categorical_crossentropy(
        tf.constant(y_true), tf.constant(logits), from_logits=True
    )
    return tf.exp(tf.reduce_mean(ce))


def perplexity_geometric_mean(y_true, logits):  # 1 / geometric mean of the target probabilities
    log_p = _token_log_p(y_true, logits)
    return float(np.exp(-np.mean(log_p)))


def gpt_float64_einsum(token_ids, params, num_heads):
    E = np.asarray(params["token_embedding"], np.float64)
    ids = np.asarray(token_ids)
    b, t = ids.shape
    x = E[ids] + np.asarray(params["position_embedding"], np.float64)[:t]

    def norm(y, gamma, beta):
        centred = y - y.mean(-1, keepdims=True)
        return centred / np.sqrt(np.mean(centred**2, -1, keepdims=True) + 1e-5) * gamma + beta

    future = np.triu(np.full((t, t), -np.inf), k=1)  # an additive mask
    for block in params["blocks"]:
        p = {k: np.asarray(v, np.float64) for k, v in block.items()}
        y = norm(x, p["ln1_gamma"], p["ln1_beta"])
        q, k, v = (
            np.einsum("btd,de->bte", y, p["w" + n]).reshape(b, t, num_heads, -1)
            + p["b" + n].reshape(num_heads, -1)
            for n in "qkv"
        )
        scores = np.einsum("bqhe,bkhe->bhqk", q, k) / np.sqrt(q.shape[-1]) + future
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        x = x + np.einsum("bhqk,bkhe->bqhe", weights, v).reshape(b, t, -1) @ p["wo"] + p["bo"]
        z = np.einsum("btd,dm->btm", norm(x, p["ln2_gamma"], p["ln2_beta"]), p["w1"]) + p["b1"]
        x = (
            x
            + np.einsum(
                "btm,md->btd", 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2))), p["w2"]
            )
            + p["b2"]
        )
    x = norm(
        x,
        np.asarray(params["final_gamma"], np.float64),
        np.asarray(params["final_beta"], np.float64),
    )
    return np.einsum("btd,vd->btv", x, E)


def gpt_float32_head_loop(token_ids, params, num_heads):  # float32 throughout, one head at a time
    E = np.asarray(params["token_embedding"], np.float32)
    t = np.shape(token_ids)[1]
    x = E[np.asarray(token_ids)] + np.asarray(params["position_embedding"], np.float32)[:t]

    def norm(y, gamma, beta):
        return (y - y.mean(-1, keepdims=True)) / np.sqrt(
            y.var(-1, keepdims=True) + np.float32(1e-5)
        ) * gamma + beta

    for block in params["blocks"]:
        p = {k: np.asarray(v, np.float32) for k, v in block.items()}
        y = norm(x, p["ln1_gamma"], p["ln1_beta"])
        q, k, v = (y @ p["w" + n] + p["b" + n] for n in "qkv")
        dh = q.shape[-1] // num_heads
        heads = []
        for i in range(num_heads):
            cols = slice(i * dh, (i + 1) * dh)
            s = q[..., cols] @ np.swapaxes(k[..., cols], 1, 2) / np.float32(math.sqrt(dh))
            s = np.where(np.tri(t, dtype=bool), s, np.float32(-1e30))
            w = np.exp(s - s.max(-1, keepdims=True))
            heads.append(w / w.sum(-1, keepdims=True) @ v[..., cols])
        x = x + np.concatenate(heads, -1) @ p["wo"] + p["bo"]
        z = norm(x, p["ln2_gamma"], p["ln2_beta"]) @ p["w1"] + p["b1"]
        erf = np.array(
            [math.erf(a) for a in (z / np.float32(math.sqrt(2))).ravel()], np.float32
        ).reshape(z.shape)
        x = x + (np.float32(0.5) * z * (1 + erf)) @ p["w2"] + p["b2"]
    return norm(x, params["final_gamma"], params["final_beta"]) @ E.T


def gpt_tensorflow(token_ids, params, num_heads):  # float32 TensorFlow ops
    E = tf.constant(params["token_embedding"], tf.float32)
    ids = tf.constant(token_ids)
    t = ids.shape[1]
    x = tf.gather(E, ids) + tf.constant(params["position_embedding"], tf.float32)[:t]

    def norm(y, gamma, beta):
        mean, variance = tf.nn.moments(y, axes=[-1], keepdims=True)
        return tf.nn.batch_normalization(
            y, mean, variance, tf.constant(beta, tf.float32), tf.constant(gamma, tf.float32), 1e-5
        )

    causal = tf.linalg.band_part(tf.ones((t, t)), -1, 0)  # 1 on and below the diagonal
    for block in params["blocks"]:
        p = {k: tf.constant(v, tf.float32) for k, v in block.items()}
        y = norm(x, block["ln1_gamma"], block["ln1_beta"])
        d = y.shape[-1]

        def split(a):
            return tf.transpose(tf.reshape(a, (-1, t, num_heads, d // num_heads)), (0, 2, 1, 3))

        q, k, v = (split(tf.matmul(y, p["w" + n]) + p["b" + n]) for n in "qkv")
        s = tf.matmul(q, k, transpose_b=True) / math.sqrt(d // num_heads) + (1.0 - causal) * -1e9
        heads = tf.transpose(tf.matmul(tf.nn.softmax(s), v), (0, 2, 1, 3))
        x = x + tf.matmul(tf.reshape(heads, (-1, t, d)), p["wo"]) + p["bo"]
        hidden = tf.nn.gelu(
            tf.matmul(norm(x, block["ln2_gamma"], block["ln2_beta"]), p["w1"]) + p["b1"],
            approximate=False,
        )
        x = x + tf.matmul(hidden, p["w2"]) + p["b2"]
    x = norm(x, params["final_gamma"], params["final_beta"])
    return tf.matmul(x, E, transpose_b=True)


ALTERNATIVES = {
    "ch05.lm_inputs_and_targets": [lm_tensorflow],
    "ch05.top_k_logits": [top_k_tensorflow, top_k_partition],
    "ch05.top_p_logits": [top_p_tensorflow, top_p_loop],
    "ch05.perplexity": [perplexity_keras, perplexity_geometric_mean],
    "ch05.gpt_forward": [gpt_float64_einsum, gpt_float32_head_loop, gpt_tensorflow],
}
