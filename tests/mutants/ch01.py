"""Chapter 1: the classic mistakes, each of which the public cases must catch."""

import math

import numpy as np
import tensorflow as tf


# --- sigmoid
def sigmoid_overflowing(z):  # e^z / (1 + e^z): inf/inf = NaN for large z
    z = np.asarray(z, np.float32)
    return np.exp(z) / (1 + np.exp(z))


def sigmoid_wrong_sign(z):
    return 1 / (1 + np.exp(np.asarray(z, np.float64)))


def sigmoid_tanh_without_half(z):  # sigmoid(z) = (1 + tanh(z/2))/2, the /2 forgotten
    return (1 + np.tanh(np.asarray(z))) / 2


def sigmoid_scalar_only(z):  # math.exp works on one number, not arrays
    return 1 / (1 + math.exp(-z))


# --- relu
def relu_leaky(x):
    x = np.asarray(x)
    return np.where(x > 0, x, 0.01 * x)


def relu_capped(x):  # ReLU6 / a clip to [0, 1]
    return np.clip(x, 0, 6)


def relu_python_max(x):
    return max(x, 0)


def relu_boolean(x):
    return np.asarray(x) > 0


def relu_abs(x):
    return np.abs(x)


# --- binary cross-entropy
def _clip(p):
    return np.clip(p, 1e-7, 1 - 1e-7)


def bce_sum(y, p, from_logits=False):
    p = (
        1 / (1 + np.exp(-np.asarray(p, np.float64)))
        if from_logits
        else _clip(np.asarray(p, np.float64))
    )
    return -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_no_clip(y, p, from_logits=False):
    p = np.asarray(p, np.float64)
    if from_logits:
        return np.mean(np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p))))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_naive_logits(y, p, from_logits=False):  # sigmoid, clip, then log: wrong for |z| = 1e4
    p = np.asarray(p, np.float64)
    if from_logits:
        p = 1 / (1 + np.exp(-p))
    p = _clip(p)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_ignores_from_logits(y, p, from_logits=False):
    p = _clip(np.asarray(p, np.float64))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_log2(y, p, from_logits=False):
    p = 1 / (1 + np.exp(-np.asarray(p, np.float64))) if from_logits else np.asarray(p, np.float64)
    p = _clip(p)
    return -np.mean(y * np.log2(p) + (1 - y) * np.log2(1 - p))


def bce_missing_negative_class(y, p, from_logits=False):
    p = 1 / (1 + np.exp(-np.asarray(p, np.float64))) if from_logits else np.asarray(p, np.float64)
    return -np.mean(y * np.log(_clip(p)))


# --- gradients
def _sig(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def gradients_sum(w, b, x, y):
    e = _sig(x @ w + b) - y
    return x.T @ e, np.sum(e)


def gradients_wrong_sign(w, b, x, y):
    e = y - _sig(x @ w + b)
    return x.T @ e / len(y), np.mean(e)


def gradients_no_sigmoid(w, b, x, y):
    e = (x @ w + b) - y
    return x.T @ e / len(y), np.mean(e)


def gradients_db_is_sum(w, b, x, y):
    e = _sig(x @ w + b) - y
    return x.T @ e / len(y), np.sum(e)


def gradients_per_sample(w, b, x, y):  # forgot to reduce over samples
    e = _sig(x @ w + b) - y
    return x * e[:, None] / len(y), np.mean(e)


MUTANTS = {
    "ch01.sigmoid": [
        sigmoid_overflowing,
        sigmoid_wrong_sign,
        sigmoid_tanh_without_half,
        sigmoid_scalar_only,
    ],
    "ch01.relu": [relu_leaky, relu_capped, relu_python_max, relu_boolean, relu_abs],
    "ch01.binary_cross_entropy": [
        bce_sum,
        bce_no_clip,
        bce_naive_logits,
        bce_ignores_from_logits,
        bce_log2,
        bce_missing_negative_class,
    ],
    "ch01.logistic_regression_gradients": [
        gradients_sum,
        gradients_wrong_sign,
        gradients_no_sigmoid,
        gradients_db_is_sum,
        gradients_per_sample,
    ],
}


# --- correct answers written differently from the reference
def sigmoid_tensorflow(z):
    return tf.math.sigmoid(tf.constant(z, tf.float64))


def sigmoid_tanh(z):
    return (
        [float(v) for v in np.ravel(0.5 * (1 + np.tanh(0.5 * np.asarray(z, np.float64))))]
        if np.ndim(z) == 1
        else 0.5 * (1 + np.tanh(0.5 * np.asarray(z, np.float64)))
    )


def relu_where(x):
    return tf.where(tf.constant(x) > 0, tf.constant(x), tf.zeros_like(tf.constant(x)))


def relu_list(x):
    return np.asarray(x).clip(min=0).tolist()


def bce_tensorflow(y_true, y_pred, from_logits=False):
    y_true = tf.constant(y_true, tf.float32)
    y_pred = tf.constant(y_pred, tf.float32)
    if from_logits:
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred))
    p = tf.clip_by_value(y_pred, 1e-7, 1 - 1e-7)
    return -tf.reduce_mean(y_true * tf.math.log(p) + (1 - y_true) * tf.math.log(1 - p))


def gradients_tape(w, b, x, y):
    w, b = tf.Variable(np.asarray(w, np.float64)), tf.Variable(float(b), dtype=tf.float64)
    x, y = tf.constant(x, tf.float64), tf.constant(y, tf.float64)
    with tf.GradientTape() as tape:
        z = tf.linalg.matvec(x, w) + b
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z))
    dw, db = tape.gradient(loss, [w, b])
    return [dw.numpy(), db.numpy()]  # a list rather than a tuple is fine


ALTERNATIVES = {
    "ch01.sigmoid": [sigmoid_tensorflow, sigmoid_tanh],
    "ch01.relu": [relu_where, relu_list],
    "ch01.binary_cross_entropy": [bce_tensorflow],
    "ch01.logistic_regression_gradients": [gradients_tape],
}
