"""Chapter 1 — logistic regression trained by hand (gradient descent) and with Keras.

p = σ(x·w + b),   L = −mean(y log p + (1 − y) log(1 − p))
∂L/∂w = xᵀ(p − y)/n,   ∂L/∂b = mean(p − y)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tinyllm.validation import as_array


def train_logistic_regression(x, y, steps: int = 300, learning_rate: float = 0.5):
    """Full-batch gradient descent on the mean BCE, written with ``tf.GradientTape``.

    Returns ``(w (d,), b scalar, losses list)``. Weights start at zero, so the
    run is deterministic and comparable with the Keras version below.
    """
    x = tf.constant(as_array(x, "x", ndim=2, dtype="float"), tf.float32)
    y = tf.constant(as_array(y, "y", ndim=1, dtype="float"), tf.float32)
    w = tf.Variable(tf.zeros([x.shape[1]]), name="w")
    b = tf.Variable(0.0, name="b")

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = tf.linalg.matvec(x, w) + b
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(learning_rate * dw)
        b.assign_sub(learning_rate * db)
        return loss

    losses = [float(step()) for _ in range(steps)]
    return w.numpy(), float(b.numpy()), losses


def keras_logistic_regression(num_features: int, learning_rate: float = 0.5):
    """The same model as one ``Dense(1)`` unit on logits, zero-initialised, plain SGD."""

    model = keras.Sequential(
        [
            keras.Input((num_features,)),
            keras.layers.Dense(1, kernel_initializer="zeros", name="logit"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    return model


def fit_full_batch(model, x, y, steps: int):
    """``steps`` gradient steps of ``model.fit`` on the whole of (x, y) as one batch.

    Feeding one batch repeated ``steps`` times as a single epoch is the same
    algorithm as ``epochs=steps, batch_size=len(x)``, without Keras's
    per-epoch overhead (callbacks, logs and a new pass over the dataset each epoch).
    """
    data = tf.data.Dataset.from_tensors(
        (np.asarray(x, np.float32), np.asarray(y, np.float32))
    ).repeat(steps)
    return model.fit(data, epochs=1, shuffle=False, verbose=0)


def accuracy(y_true, probabilities) -> float:
    """Fraction of samples where (probability > 0.5) equals the 0/1 label."""
    y_true = as_array(y_true, "y_true").ravel()
    predicted = as_array(probabilities, "probabilities").ravel() > 0.5
    return float(np.mean(predicted == (y_true > 0.5)))
