"""Chapter 7: the classic mistakes, each of which the public cases must catch, and correct
variants."""

import numpy as np
import tensorflow as tf


def _log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


# --- distillation_loss
def kd_no_t_squared(teacher_logits, student_logits, temperature):
    log_p, log_q = (
        _log_softmax(np.asarray(teacher_logits) / temperature),
        _log_softmax(np.asarray(student_logits) / temperature),
    )
    return float((np.exp(log_p) * (log_p - log_q)).sum(-1).mean())


def kd_t_not_squared(teacher_logits, student_logits, temperature):
    return kd_no_t_squared(teacher_logits, student_logits, temperature) * temperature


def kd_reversed(teacher_logits, student_logits, temperature):  # KL(q ‖ p)
    return kd_no_t_squared(student_logits, teacher_logits, temperature) * temperature**2


def kd_cross_entropy(teacher_logits, student_logits, temperature):  # H(p, q) = KL + H(p)
    log_p, log_q = (
        _log_softmax(np.asarray(teacher_logits) / temperature),
        _log_softmax(np.asarray(student_logits) / temperature),
    )
    return float(temperature**2 * (-np.exp(log_p) * log_q).sum(-1).mean())


def kd_sum_over_positions(teacher_logits, student_logits, temperature):
    log_p, log_q = (
        _log_softmax(np.asarray(teacher_logits) / temperature),
        _log_softmax(np.asarray(student_logits) / temperature),
    )
    return float(temperature**2 * (np.exp(log_p) * (log_p - log_q)).sum())


def kd_teacher_only_softened(teacher_logits, student_logits, temperature):
    log_p, log_q = (
        _log_softmax(np.asarray(teacher_logits) / temperature),
        _log_softmax(student_logits),
    )
    return float(temperature**2 * (np.exp(log_p) * (log_p - log_q)).sum(-1).mean())


def kd_naive_softmax(teacher_logits, student_logits, temperature):  # overflows for large logits
    with np.errstate(all="ignore"):
        p = np.exp(np.asarray(teacher_logits, np.float32) / temperature)
        q = np.exp(np.asarray(student_logits, np.float32) / temperature)
        p, q = p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)
        return float(temperature**2 * (p * np.log(p / q)).sum(-1).mean())


# --- quantize_int8
def q_per_tensor(w):
    w = np.asarray(w, np.float32)
    scale = np.float32(np.abs(w).max() / 127)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), np.full(
        w.shape[1], scale, np.float32
    )


def q_per_row(w):
    w = np.asarray(w, np.float32)
    scale = np.abs(w).max(1, keepdims=True) / 127
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return q, np.resize(scale.ravel(), w.shape[1]).astype(np.float32)


def q_round_half_up(w):
    w = np.asarray(w, np.float32)
    largest = np.abs(w).max(0)
    scale = np.where(largest > 0, largest / 127, 1).astype(np.float32)
    return np.clip(np.floor(w / scale + 0.5), -127, 127).astype(np.int8), scale


def q_truncate(w):
    w = np.asarray(w, np.float32)
    largest = np.abs(w).max(0)
    scale = np.where(largest > 0, largest / 127, 1).astype(np.float32)
    return (w / scale).astype(np.int8), scale


def q_keras_scale(w):  # Keras's stored orientation: q = round(w · s), s = 127 / max|w|
    w = np.asarray(w, np.float32)
    largest = np.abs(w).max(0)
    scale = np.where(largest > 0, 127 / np.where(largest > 0, largest, 1), 1).astype(np.float32)
    return np.clip(np.round(w * scale), -127, 127).astype(np.int8), scale


def q_zero_column_nan(w):
    w = np.asarray(w, np.float32)
    scale = (np.abs(w).max(0) / 127).astype(np.float32)
    with np.errstate(all="ignore"):
        return np.nan_to_num(np.clip(np.round(w / scale), -127, 127)).astype(np.int8), scale


def q_over_128(w):
    w = np.asarray(w, np.float32)
    largest = np.abs(w).max(0)
    scale = np.where(largest > 0, largest / 128, 1).astype(np.float32)
    return np.clip(np.round(w / scale), -128, 127).astype(np.int8), scale


def q_asymmetric(w):  # min/max range, no zero point returned
    w = np.asarray(w, np.float32)
    low, high = w.min(0), w.max(0)
    scale = np.where(high > low, (high - low) / 254, 1).astype(np.float32)
    return np.clip(np.round((w - (high + low) / 2) / scale), -127, 127).astype(np.int8), scale


# --- magnitude_prune
def prune_signed(w, sparsity):  # smallest values, not smallest magnitudes
    w = np.asarray(w)
    flat = w.ravel().copy()
    flat[np.argsort(flat, kind="stable")[: int(np.floor(sparsity * w.size))]] = 0
    return flat.reshape(w.shape)


def prune_per_row(w, sparsity):  # a quota per row instead of one ranking over the array
    shape = np.shape(w)
    rows = np.atleast_2d(np.asarray(w)).copy()
    k = int(np.floor(sparsity * rows.shape[-1]))
    for row in rows:
        row[np.argsort(np.abs(row), kind="stable")[:k]] = 0
    return rows.reshape(shape)


def prune_threshold(w, sparsity):  # |w| <= k-th smallest: ties all go
    w = np.asarray(w)
    k = int(np.floor(sparsity * w.size))
    if k == 0:
        return w.copy()
    threshold = np.sort(np.abs(w), axis=None)[k - 1]
    return np.where(np.abs(w) <= threshold, 0, w).astype(w.dtype)


def prune_rounded_count(w, sparsity):
    w = np.asarray(w)
    flat = w.ravel().copy()
    flat[np.argsort(np.abs(flat), kind="stable")[: int(np.round(sparsity * w.size))]] = 0
    return flat.reshape(w.shape)


def prune_mask_returned(w, sparsity):  # the keep-mask instead of the pruned weights
    w = np.asarray(w)
    flat = np.ones(w.size, w.dtype)
    flat[np.argsort(np.abs(w.ravel()), kind="stable")[: int(np.floor(sparsity * w.size))]] = 0
    return flat.reshape(w.shape)


def prune_ties_last_first(w, sparsity):
    w = np.asarray(w)
    flat = w.ravel().copy()
    # ascending |w|, ties in reverse index order
    order = np.argsort(-np.abs(flat), kind="stable")[::-1]
    flat[order[: int(np.floor(sparsity * w.size))]] = 0
    return flat.reshape(w.shape)


MUTANTS = {
    "ch07.distillation_loss": [
        kd_no_t_squared,
        kd_t_not_squared,
        kd_reversed,
        kd_cross_entropy,
        kd_sum_over_positions,
        kd_teacher_only_softened,
        kd_naive_softmax,
    ],
    "ch07.quantize_int8": [
        q_per_tensor,
        q_per_row,
        q_round_half_up,
        q_truncate,
        q_keras_scale,
        q_zero_column_nan,
        q_over_128,
        q_asymmetric,
    ],
    "ch07.magnitude_prune": [
        prune_signed,
        prune_per_row,
        prune_threshold,
        prune_rounded_count,
        prune_mask_returned,
        prune_ties_last_first,
    ],
}


# --- correct variants
def kd_tensorflow(teacher_logits, student_logits, temperature):
    p = tf.nn.softmax(tf.constant(teacher_logits, tf.float64) / temperature)
    log_p = tf.nn.log_softmax(tf.constant(teacher_logits, tf.float64) / temperature)
    log_q = tf.nn.log_softmax(tf.constant(student_logits, tf.float64) / temperature)
    return float(temperature**2 * tf.reduce_mean(tf.reduce_sum(p * (log_p - log_q), -1)))


def kd_scipy(teacher_logits, student_logits, temperature):
    from scipy.special import log_softmax

    log_p = log_softmax(np.asarray(teacher_logits, np.float64) / temperature, axis=-1)
    log_q = log_softmax(np.asarray(student_logits, np.float64) / temperature, axis=-1)
    return temperature**2 * np.einsum("...v,...v->...", np.exp(log_p), log_p - log_q).mean()


def q_float64(w):
    w = np.asarray(w, np.float32)
    largest = np.abs(w).max(0)
    scale = np.where(largest > 0, largest / np.float32(127), 1).astype(np.float32)
    return np.rint(w / scale).clip(-127, 127).astype(np.int8), scale


def q_tensorflow(w):
    w = tf.constant(w, tf.float32)
    largest = tf.reduce_max(tf.abs(w), axis=0)
    scale = tf.where(largest > 0, largest / 127.0, tf.ones_like(largest))
    q = tf.clip_by_value(tf.round(w / scale), -127, 127)  # tf.round rounds half to even too
    return tf.cast(q, tf.int8).numpy(), scale.numpy()


def prune_lexsort(w, sparsity):
    w = np.asarray(w)
    flat = w.ravel()
    order = np.lexsort((np.arange(flat.size), np.abs(flat)))
    keep = np.ones(flat.size, bool)
    keep[order[: int(np.floor(sparsity * w.size))]] = False
    return np.where(keep, flat, 0).reshape(w.shape).astype(w.dtype)


def prune_tensorflow(w, sparsity):
    w = np.asarray(w)
    k = int(np.floor(sparsity * w.size))
    order = tf.argsort(tf.abs(tf.reshape(tf.constant(w), [-1])), stable=True)[:k]
    flat = tf.tensor_scatter_nd_update(
        tf.reshape(tf.constant(w), [-1]), order[:, None], tf.zeros([k], w.dtype)
    )
    return tf.reshape(flat, w.shape).numpy()


ALTERNATIVES = {
    "ch07.distillation_loss": [kd_tensorflow, kd_scipy],
    "ch07.quantize_int8": [q_float64, q_tensorflow],
    "ch07.magnitude_prune": [prune_lexsort, prune_tensorflow],
}
