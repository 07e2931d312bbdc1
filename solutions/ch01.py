"""Chapter 1 — logistic regression, ReLU, and a first language model.

Equations (n samples, d features):

    sigmoid(z)  = 1 / (1 + e^(-z))
    relu(x)     = max(x, 0)
    p           = sigmoid(x·w + b)                                  (n,)
    BCE(y, p)   = -(1/n) Σ_i [ y_i log p_i + (1 - y_i) log(1 - p_i) ]
    BCE(y, z)   = (1/n) Σ_i [ max(z_i, 0) - z_i y_i + log(1 + e^(-|z_i|)) ]   (from logits z)
    ∂BCE/∂w     = (1/n) xᵀ (p - y)        ∂BCE/∂b = (1/n) Σ_i (p_i - y_i)

A bigram language model is softmax regression on the previous character:
P(c_t | c_{t-1}) = softmax(W[c_{t-1}]) with W of shape (vocab, vocab).
"""

from __future__ import annotations

import numpy as np

from tinyllm.validation import as_array, require_range, require_same_shape

EPSILON = 1e-7


def sigmoid(z):
    """Elementwise 1 / (1 + e^-z), finite and exact for any |z| (no overflow in e^-z).

    For z ≥ 0 use 1 / (1 + e^-z); for z < 0 the algebraically equal e^z / (1 + e^z).
    Either way the exponent is -|z| ≤ 0, so e^(...) never overflows.
    """
    z = as_array(z, "z", dtype="float")
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype)


def relu(x):
    """Elementwise max(x, 0), same shape and dtype as ``x``."""
    x = as_array(x, "x")
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def binary_cross_entropy(y_true, y_pred, from_logits=False):
    """Mean binary cross-entropy (natural log) over all elements.

    ``y_pred`` holds probabilities, clipped to [1e-7, 1 - 1e-7] so log never
    sees 0 — or logits when ``from_logits=True``, evaluated in the stable form
    max(z, 0) - z·y + log(1 + e^-|z|), which stays finite for |z| up to any size.
    """
    y_true = as_array(y_true, "y_true", dtype="float").astype(np.float64)
    y_pred = as_array(y_pred, "y_pred", dtype="float").astype(np.float64)
    require_same_shape(y_true, y_pred, "y_true", "y_pred")
    require_range(y_true, "y_true", 0.0, 1.0)
    if from_logits:
        z = y_pred
        losses = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
    else:
        require_range(y_pred, "y_pred (probabilities; pass from_logits=True for logits)", 0.0, 1.0)
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        losses = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    return np.float32(losses.mean())


def logistic_regression_gradients(w, b, x, y):
    """Gradients ``(dw (d,), db scalar)`` of the mean BCE of sigmoid(x·w + b) against labels y.

    The chain rule collapses neatly: ∂BCE/∂z_i = (p_i - y_i)/n, so
    dw = xᵀ(p - y)/n and db = Σ(p - y)/n.
    """
    x = as_array(x, "x", ndim=2, dtype="float")
    w = as_array(w, "w", ndim=1, dtype="float")
    y = as_array(y, "y", ndim=1, dtype="float")
    b = as_array(b, "b", ndim=0, dtype="float")
    n, d = x.shape
    if w.shape != (d,):
        raise ValueError(f"w must have shape ({d},) to match x of shape {x.shape}, got {w.shape}")
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match x of shape {x.shape}, got {y.shape}")
    require_range(y, "y", 0.0, 1.0)
    error = sigmoid(x.astype(np.float64) @ w.astype(np.float64) + float(b)) - y
    return (x.T @ error / n).astype(np.float32), np.float32(error.mean())
