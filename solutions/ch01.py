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

from course.validation import as_array, require_range, require_same_shape

EPSILON = 1e-7


# --------------------------------------------------------------------------- exercises


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


# --------------------------------------------------------------------------- teaching code


def train_logistic_regression(x, y, steps: int = 300, learning_rate: float = 0.5):
    """Full-batch gradient descent on the mean BCE, written with ``tf.GradientTape``.

    Returns ``(w (d,), b scalar, losses list)``. Weights start at zero, so the
    run is deterministic and comparable with the Keras version below.
    """
    import tensorflow as tf

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
    import keras

    model = keras.Sequential(
        [keras.Input((num_features,)), keras.layers.Dense(1, kernel_initializer="zeros", name="logit")]
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
    per-epoch overhead (about 100× faster for tiny data).
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensors((np.asarray(x, np.float32), np.asarray(y, np.float32))).repeat(steps)
    return model.fit(data, epochs=1, shuffle=False, verbose=0)


def accuracy(y_true, probabilities) -> float:
    """Fraction of samples where (probability > 0.5) equals the 0/1 label."""
    y_true = as_array(y_true, "y_true").ravel()
    predicted = as_array(probabilities, "probabilities").ravel() > 0.5
    return float(np.mean(predicted == (y_true > 0.5)))


def make_classifier(hidden_units=(), activation: str = "relu", learning_rate: float = 0.03):
    """A binary classifier on 2-D points: ``Dense`` hidden layers with ``activation``, one logit out.

    ``hidden_units=()`` is logistic regression (a linear boundary).
    """
    import keras

    layers = [keras.Input((2,))]
    layers += [keras.layers.Dense(units, activation=activation) for units in hidden_units]
    layers += [keras.layers.Dense(1)]
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    return model


def predict_proba(model, x):
    """P(y = 1 | x) from a model that outputs one logit per sample."""
    import keras

    logits = model(np.asarray(x, np.float32), training=False)[:, 0]  # a direct call: no predict() retracing
    return keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))


def layer_gradient_norms(activation: str, depth: int = 12, width: int = 64, seed: int = 0):
    """‖∂loss/∂kernel‖ for each layer of a deep ``activation`` network at initialisation.

    Shows vanishing gradients: with sigmoid the norms shrink by roughly 4× per
    layer going backwards (σ' ≤ 1/4); with ReLU (He initialisation) they stay
    of the same order.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    initializer = "he_normal" if activation == "relu" else "glorot_normal"
    model = keras.Sequential(
        [keras.Input((width,))]
        + [keras.layers.Dense(width, activation=activation, kernel_initializer=initializer) for _ in range(depth)]
        + [keras.layers.Dense(1)]
    )
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, width)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)[:, None]
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)(y, model(x))
    kernels = [layer.kernel for layer in model.layers[:-1]]
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


# --------------------------------------------------------------------------- a first language model


class CharTokenizer:
    """Characters ↔ integer ids, with the vocabulary taken from a text (sorted, so it is reproducible)."""

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError("CharTokenizer needs a non-empty string to build its vocabulary")
        self.vocabulary = sorted(set(text))
        self._ids = {ch: i for i, ch in enumerate(self.vocabulary)}

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - self._ids.keys())
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10])
            raise ValueError(f"text contains {len(unknown)} character(s) not in the vocabulary: {shown}")
        return np.fromiter((self._ids[c] for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        ids = as_array(ids, "ids", ndim=1, dtype="int")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocabulary_size):
            raise ValueError(f"ids must lie in [0, {self.vocabulary_size - 1}], got [{ids.min()}, {ids.max()}]")
        return "".join(self.vocabulary[i] for i in ids)


def unigram_cross_entropy(train_ids, eval_ids, vocabulary_size: int) -> float:
    """Cross-entropy (nats/char) on ``eval_ids`` of character frequencies counted on ``train_ids``.

    Add-one smoothing keeps an unseen character from costing infinity.
    """
    counts = np.bincount(train_ids, minlength=vocabulary_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(-log_p[eval_ids].mean())


def bigram_counts_cross_entropy(train_ids, eval_ids, vocabulary_size: int) -> float:
    """Cross-entropy (nats/char) of the count-based bigram P(next | previous) with add-one smoothing."""
    counts = np.ones((vocabulary_size, vocabulary_size))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[eval_ids[:-1], eval_ids[1:]].mean())


def make_bigram_model(vocabulary_size: int, learning_rate: float = 0.1):
    """Softmax regression on the previous character: an ``Embedding(v, v)`` row is W[c_{t-1}], the logits."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((), dtype="int32"),
            keras.layers.Embedding(vocabulary_size, vocabulary_size, embeddings_initializer="zeros", name="logits"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def sample_bigram(model, tokenizer: CharTokenizer, start: str, length: int, temperature: float = 1.0, seed: int = 0):
    """Generate ``length`` characters after ``start`` by sampling P(next | previous) again and again."""
    if not start:
        raise ValueError("start must contain at least one character")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    rng = np.random.default_rng(seed)
    table = np.asarray(model.get_layer("logits").embeddings) / temperature
    probabilities = np.exp(table - table.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    ids = list(tokenizer.encode(start))
    for _ in range(length):
        ids.append(int(rng.choice(tokenizer.vocabulary_size, p=probabilities[ids[-1]])))
    return tokenizer.decode(np.array(ids))
