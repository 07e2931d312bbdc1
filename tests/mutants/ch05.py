"""Chapter 5: the classic mistakes, each of which the public cases must catch."""

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


MUTANTS = {
    "ch05.lm_inputs_and_targets": [lm_swapped, lm_batch_axis, lm_no_shift, lm_roll, lm_off_by_two, lm_flattened],
    "ch05.top_k_logits": [top_k_zero_fill, top_k_smallest, top_k_global, top_k_off_by_one, top_k_exactly_k,
                          top_k_values_only, top_k_large_negative],
    "ch05.top_p_logits": [top_p_excludes_crossing_token, top_p_no_sort, top_p_no_softmax, top_p_sorted_output,
                          top_p_zero_fill, top_p_probability_threshold],
    "ch05.perplexity": [perplexity_no_exp, perplexity_sum, perplexity_log2, perplexity_mean_of_sequences,
                        perplexity_mean_of_positions, perplexity_naive_softmax, perplexity_shifted],
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
        tf.stack([tf.repeat(tf.range(tf.shape(z)[0]), tf.shape(z)[1]), tf.reshape(order, [-1])], axis=1),
        tf.reshape(keep_sorted, [-1]), tf.shape(z))
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
    ce = tf.keras.losses.sparse_categorical_crossentropy(tf.constant(y_true), tf.constant(logits), from_logits=True)
    return tf.exp(tf.reduce_mean(ce))


def perplexity_geometric_mean(y_true, logits):  # 1 / geometric mean of the target probabilities
    log_p = _token_log_p(y_true, logits)
    return float(np.exp(-np.mean(log_p)))


ALTERNATIVES = {
    "ch05.lm_inputs_and_targets": [lm_tensorflow],
    "ch05.top_k_logits": [top_k_tensorflow, top_k_partition],
    "ch05.top_p_logits": [top_p_tensorflow, top_p_loop],
    "ch05.perplexity": [perplexity_keras, perplexity_geometric_mean],
}
