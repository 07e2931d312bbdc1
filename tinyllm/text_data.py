"""Chapter 5 — a text as training data for a language model: tokens, a train/validation split,
random windows, baselines.

The windows of training step s are a pure function of (seed, s), so replicas, workers and a
resumed run all cut the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tinyllm.bigram import bigram_counts_cross_entropy, unigram_cross_entropy
from tinyllm.tokenizers import CharTokenizer
from tinyllm.validation import as_array, require_positive_int


def split_text(text: str, validation_fraction: float = 0.1) -> tuple:
    """``(train, validation)``: the last ``validation_fraction`` of the text, cut at a line
    start."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    cut = int(len(text) * (1 - validation_fraction))
    newline = text.find("\n", cut)
    if 0 <= newline < len(text) - 1:
        cut = newline + 1
    return text[:cut], text[cut:]


@dataclass
class TextData:
    """A text ready for a character-level LM: its tokenizer and the two id arrays (int32)."""

    tokenizer: CharTokenizer
    train_ids: np.ndarray
    val_ids: np.ndarray

    @property
    def vocabulary_size(self) -> int:
        return self.tokenizer.vocabulary_size


def prepare_text(
    text: str, sequence_length: int, validation_fraction: float = 0.1, name: str = "text"
) -> TextData:
    """Character tokenizer over the whole text, then a train/validation split at a line start.

    The vocabulary comes from the whole text so the validation split has no
    unknown characters. Each split must hold at least one window of
    ``sequence_length + 1`` characters, or a ``ValueError`` says how long
    the text must be.
    """
    sequence_length = require_positive_int(sequence_length, "sequence_length")
    train, val = split_text(text, validation_fraction)
    need = sequence_length + 1
    if len(train) < need or len(val) < need:
        minimum = int(np.ceil(need / validation_fraction)) + need
        raise ValueError(
            f"{name} is too short for a context of {sequence_length} characters: its training and "
            "validation "
            f"parts have {len(train)} and {len(val)} characters, each needs at least {need} "
            f"(give a text of at least about {minimum} characters, or a shorter --seq-len)"
        )
    tokenizer = CharTokenizer(text)
    return TextData(tokenizer, tokenizer.encode(train), tokenizer.encode(val))


def random_windows(ids, sequence_length: int, batch_size: int, seed: int, step):
    """The global batch of training step ``step``: ``batch_size`` windows of t+1 tokens, (b, t+1)
    int32.

    Window starts are drawn with a stateless RNG keyed by (seed, step), so the
    batch is a pure function of the step: every strategy, every worker layout
    and a resumed run see exactly the same batches. ``ids`` is a 1-D tensor.
    """
    step = tf.cast(step, tf.int64)
    count = tf.cast(tf.shape(ids)[0], tf.int64) - sequence_length  # number of possible starts
    starts = tf.random.stateless_uniform(
        [batch_size],
        seed=tf.stack([tf.constant(seed, tf.int64), step]),
        minval=0,
        maxval=count,
        dtype=tf.int64,
    )
    return tf.gather(ids, starts[:, None] + tf.range(sequence_length + 1, dtype=tf.int64))


def validation_windows(ids, sequence_length: int, max_tokens: int | None = None) -> np.ndarray:
    """Consecutive non-overlapping windows of t+1 tokens (stride t), (n, t+1) int32.

    Every validation token but the first is a target exactly once (up to
    ``max_tokens`` targets), so the mean loss over these windows is the
    validation cross-entropy.
    """
    ids = as_array(ids, "ids", ndim=1, dtype="int").astype(np.int32)
    if max_tokens is not None:
        ids = ids[: max_tokens + 1]
    n = (len(ids) - 1) // sequence_length
    if n < 1:
        raise ValueError(f"need at least {sequence_length + 1} validation tokens, got {len(ids)}")
    starts = np.arange(n) * sequence_length
    return ids[starts[:, None] + np.arange(sequence_length + 1)]


def baselines(data: TextData) -> dict:
    """Validation cross-entropy (nats/char) of chapter 1's count models: unigram and bigram."""
    v = data.vocabulary_size
    return {
        "unigram": unigram_cross_entropy(data.train_ids, data.val_ids, v),
        "bigram": bigram_counts_cross_entropy(data.train_ids, data.val_ids, v),
    }
