"""Chapter 1 — the first language models: unigram and bigram counts, and a bigram as a one-layer
network.

L = −(1/N) Σ log p(y_t | y_{t−1})   nats per character; the model's validation cross-entropy
"""

from __future__ import annotations

import keras
import numpy as np

from tinyllm.tokenizers import CharTokenizer


def unigram_cross_entropy(train_ids, eval_ids, vocabulary_size: int) -> float:
    """Cross-entropy (nats/char) on ``eval_ids`` of character frequencies counted on ``train_ids``.

    Add-one smoothing keeps an unseen character from costing infinity.
    """
    counts = np.bincount(train_ids, minlength=vocabulary_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(-log_p[eval_ids].mean())


def bigram_counts_cross_entropy(train_ids, eval_ids, vocabulary_size: int) -> float:
    """Cross-entropy (nats/char) of the count-based bigram P(next | previous) with add-one
    smoothing."""
    counts = np.ones((vocabulary_size, vocabulary_size))
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[eval_ids[:-1], eval_ids[1:]].mean())


def make_bigram_model(vocabulary_size: int, learning_rate: float = 0.1):
    """Softmax regression on the previous character: an ``Embedding(v, v)`` row is W[c_{t-1}], the
    logits."""

    model = keras.Sequential(
        [
            keras.Input((), dtype="int32"),
            keras.layers.Embedding(
                vocabulary_size, vocabulary_size, embeddings_initializer="zeros", name="logits"
            ),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def sample_bigram(
    model,
    tokenizer: CharTokenizer,
    start: str,
    length: int,
    temperature: float = 1.0,
    seed: int = 0,
):
    """Generate ``length`` characters after ``start`` by sampling P(next | previous) again and
    again."""
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
