"""Chapter 1 — a generative classifier (Gaussian naive Bayes) beside logistic regression.

A generative classifier models how the data are made, p(x, y) = p(y) p(x | y), and
classifies with Bayes' rule; a discriminative one (logistic regression) models
p(y | x) directly. Gaussian naive Bayes assumes the features are independent given
the class, each Gaussian:

    log p(x, y = k) = log π_k − ½ Σ_j [ log(2π σ²_kj) + (x_j − μ_kj)² / σ²_kj ]
    p(y = k | x) = exp(log p(x, k)) / Σ_c exp(log p(x, c))

With one variance per feature shared by the classes, the two-class posterior is
exactly σ(w·x + b) with w_j = (μ_1j − μ_0j)/σ²_j: the same family as logistic
regression, fitted by a different criterion (Ng & Jordan, 2002).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tinyllm.validation import as_array, require_positive_int


class GaussianNaiveBayes:
    """Class priors π_k, per-class means μ_kj and variances σ²_kj, counted from labelled data.

    ``shared_variance=True`` pools the variances over the classes (σ²_j, a linear
    boundary: the generative twin of logistic regression); ``False`` keeps one
    per class (a quadratic boundary, what scikit-learn's ``GaussianNB`` fits).
    ``variance_floor`` × the largest feature variance is added to every
    variance, as scikit-learn does, so a constant feature cannot divide by zero.
    """

    def __init__(self, shared_variance: bool = True, variance_floor: float = 1e-9):
        self.shared_variance = shared_variance
        self.variance_floor = variance_floor

    def fit(self, x, y):
        """x (n, d) features, y (n,) labels 0 … K−1, every class present. Returns self."""
        x = as_array(x, "x", ndim=2).astype(np.float64)
        y = as_array(y, "y", ndim=1, dtype="int")
        if len(y) != len(x):
            raise ValueError(
                f"x and y must have the same number of rows, got {len(x)} and {len(y)}"
            )
        if y.size == 0 or y.min() < 0:
            raise ValueError("y must hold class labels 0 … K−1 (non-negative whole numbers)")
        counts = np.bincount(y, minlength=2)
        if np.any(counts == 0):
            raise ValueError(
                f"y must hold every class 0 … K−1 (at least two), got counts {counts.tolist()}"
            )
        self.priors = counts / len(y)  # π_k
        self.means = np.stack([x[y == k].mean(axis=0) for k in range(len(counts))])  # μ_kj, (K, d)
        squared_residuals = (x - self.means[y]) ** 2
        if self.shared_variance:
            pooled = squared_residuals.mean(axis=0)  # σ²_j, pooled over classes
            self.variances = np.tile(pooled, (len(counts), 1))
        else:
            self.variances = np.stack(
                [squared_residuals[y == k].mean(axis=0) for k in range(len(counts))]
            )
        self.variances += self.variance_floor * x.var(axis=0).max()
        return self

    def log_joint(self, x) -> np.ndarray:
        """log p(x, y = k) for every row and class: (n, K)."""
        x = as_array(x, "x", ndim=2).astype(np.float64)
        if x.shape[1] != self.means.shape[1]:
            raise ValueError(f"x must have {self.means.shape[1]} features, got shape {x.shape}")
        squared = (x[:, None, :] - self.means[None]) ** 2 / self.variances[None]  # (n, K, d)
        log_likelihood = -0.5 * (np.log(2 * np.pi * self.variances)[None] + squared).sum(axis=-1)
        return np.log(self.priors)[None] + log_likelihood

    def predict_proba(self, x) -> np.ndarray:
        """p(y = k | x) by Bayes' rule, normalised stably in log space: (n, K)."""
        log_joint = self.log_joint(x)
        log_joint -= log_joint.max(axis=1, keepdims=True)
        joint = np.exp(log_joint)
        return joint / joint.sum(axis=1, keepdims=True)

    def as_logistic_regression(self) -> tuple:
        """``(w (d,), b)`` with p(y = 1 | x) = σ(x·w + b): two classes, shared variances only."""
        if not self.shared_variance or len(self.priors) != 2:
            raise ValueError("only a two-class model with shared_variance=True has a linear logit")
        mean_0, mean_1 = self.means
        variance = self.variances[0]
        w = (mean_1 - mean_0) / variance
        b = np.log(self.priors[1] / self.priors[0]) - np.sum(
            (mean_1**2 - mean_0**2) / (2 * variance)
        )
        return w, float(b)


def train_logistic_regressions(x, y, mask, steps: int = 300, learning_rate: float = 0.5):
    """Many independent logistic regressions at once, each on the rows its mask keeps.

    x (m, n, d), y (m, n) in {0, 1}, mask (m, n) in {0, 1}. Model i minimises the
    mean BCE over its kept rows by the same full-batch gradient descent from zero
    as ``train_logistic_regression``; stacking m problems makes one graph do
    m trainings. Returns ``(w (m, d), b (m,))``.
    """
    x = tf.constant(as_array(x, "x", ndim=3, dtype="float"), tf.float32)
    y = tf.constant(as_array(y, "y", ndim=2, dtype="float"), tf.float32)
    mask = tf.constant(as_array(mask, "mask", ndim=2, dtype="float"), tf.float32)
    if y.shape != x.shape[:2] or mask.shape != x.shape[:2]:
        expected = tuple(x.shape[:2])
        raise ValueError(
            f"y and mask must have shape {expected}, got {tuple(y.shape)} and {tuple(mask.shape)}"
        )
    steps = require_positive_int(steps, "steps")
    if float(tf.reduce_min(tf.reduce_sum(mask, axis=1))) < 1:
        raise ValueError("every mask row must keep at least one example")
    w, b = stacked_gradient_descent(
        x, y, mask, tf.constant(steps), tf.constant(learning_rate, tf.float32)
    )
    return w.numpy(), b.numpy()


@tf.function(
    input_signature=[
        tf.TensorSpec([None, None, None], tf.float32),
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([None, None], tf.float32),
        tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.float32),
    ]
)
def stacked_gradient_descent(x, y, mask, steps, learning_rate):
    """The loop of ``train_logistic_regressions``: one graph, traced once for every (m, n, d)."""
    kept = tf.reduce_sum(mask, axis=1)
    w = tf.zeros(tf.stack([tf.shape(x)[0], tf.shape(x)[2]]))
    b = tf.zeros(tf.shape(x)[:1])
    for _ in tf.range(steps):
        with tf.GradientTape() as tape:
            tape.watch([w, b])
            logits = tf.einsum("mnd,md->mn", x, w) + b[:, None]
            per_example = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)
            loss = tf.reduce_sum(tf.reduce_sum(per_example * mask, axis=1) / kept)  # sum of m means
        dw, db = tape.gradient(loss, [w, b])
        w -= learning_rate * dw
        b -= learning_rate * db
    return w, b


def learning_curves(
    x_train, y_train, x_test, y_test, sizes, repeats: int = 20, seed: int = 0
) -> dict:
    """Test error of naive Bayes and logistic regression against the number of training examples.

    For each size n, ``repeats`` random subsets of n training rows (each holding
    at least two examples of both classes) train both models; both are scored on
    the whole test set. Returns ``{"naive Bayes": errors, "logistic regression":
    errors}``, each (len(sizes), repeats).
    """
    x_train = as_array(x_train, "x_train", ndim=2, dtype="float")
    y_train = as_array(y_train, "y_train", ndim=1, dtype="int")
    y_test = as_array(y_test, "y_test", ndim=1, dtype="int")
    repeats = require_positive_int(repeats, "repeats")
    sizes = [require_positive_int(n, "sizes") for n in sizes]
    if min(sizes) < 4 or max(sizes) > len(y_train):
        raise ValueError(f"sizes must lie in [4, {len(y_train)}], got {sizes}")
    rng = np.random.default_rng(seed)
    subsets = []
    for n in sizes:
        for _ in range(repeats):
            while True:  # redraw the rare subset that lacks two examples of a class
                rows = rng.choice(len(y_train), size=n, replace=False)
                if np.bincount(y_train[rows], minlength=2).min() >= 2:
                    break
            subsets.append(rows)
    mask = np.zeros((len(subsets), len(y_train)), np.float32)
    for i, rows in enumerate(subsets):
        mask[i, rows] = 1.0
    stacked_x = np.broadcast_to(x_train, (len(subsets),) + x_train.shape)
    stacked_y = np.broadcast_to(y_train, mask.shape)
    w, b = train_logistic_regressions(stacked_x, stacked_y, mask)
    logistic_errors = np.mean(
        ((np.asarray(x_test) @ w.T + b) > 0) != (y_test[:, None] == 1), axis=0
    )
    bayes_errors = [
        np.mean(
            GaussianNaiveBayes()
            .fit(x_train[rows], y_train[rows])
            .predict_proba(x_test)
            .argmax(axis=1)
            != y_test
        )
        for rows in subsets
    ]
    shape = (len(sizes), repeats)
    return {
        "naive Bayes": np.reshape(bayes_errors, shape),
        "logistic regression": logistic_errors.reshape(shape),
    }
