"""Chapter 5 — a mini GPT: next-token prediction, sampling, and evaluation.

Notation: b batch, t context length, v vocabulary size, y_t the token at position t.

The language model factorises the probability of a text (article 003's GPT-2 likelihood):

    p(y_1 … y_T) = Π_t p(y_t | y_<t)            log p(y) = Σ_t log p(y_t | y_<t)

A decoder-only Transformer reads y_<t and outputs logits z_t (v,), so that
p(· | y_<t) = softmax(z_t). Training minimises the mean next-token cross-entropy

    L = −(1/(b·t)) Σ_{i,t} log softmax(z_{i,t})[y_{i,t+1}]          (nats per token)

on windows of t+1 tokens cut from the corpus: inputs are the first t, targets
the last t (the same window shifted by one). Perplexity is e^L, the number of
equally likely tokens the model is as unsure as.

Sampling the next token from softmax(z / T) (temperature T) after filtering:

    top-k   keep z_j ≥ (k-th largest z); the rest −∞
    top-p   sort p = softmax(z) in decreasing order, keep the smallest prefix
            whose mass reaches p (always the most likely token); the rest −∞

The exercise answers (NumPy) come first. The teaching code after them —
tokenizers and the data pipeline here, the model and its sampler in
:mod:`solutions.gpt`, distributed training in :mod:`solutions.gpt_train` —
never calls them: an exercise function is a leaf (the student edition ships
without them). The tests show the two agree, and agree with keras-hub.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course.validation import as_array, require_positive_int
from solutions.ch01 import CharTokenizer, bigram_counts_cross_entropy, unigram_cross_entropy

# --------------------------------------------------------------------------- exercises


def lm_inputs_and_targets(token_ids):
    """Next-token pairs from windows of t+1 tokens: ``(inputs (b, t), targets (b, t))``.

    inputs = token_ids[:, :-1] and targets = token_ids[:, 1:], so targets[i, j]
    is the token that follows inputs[i, j] — the y_t of p(y_t | y_<t).
    """
    token_ids = as_array(token_ids, "token_ids", ndim=2, dtype="int")
    if token_ids.shape[1] < 2:
        raise ValueError(f"token_ids must hold windows of at least 2 tokens (b, t+1), got shape {token_ids.shape}")
    return token_ids[:, :-1], token_ids[:, 1:]


def _logits_2d(logits):
    logits = as_array(logits, "logits", ndim=2, dtype="float")
    if logits.shape[1] == 0:
        raise ValueError("logits must have at least one column (the vocabulary axis)")
    return logits


def top_k_logits(logits, k):
    """(b, v) logits with every value below the k-th largest of its row set to −inf.

    Values equal to the k-th largest are kept, so a row may keep more than k
    entries when there are ties. k = v keeps everything.
    """
    logits = _logits_2d(logits)
    k = require_positive_int(k, "k")
    if k > logits.shape[1]:
        raise ValueError(f"k must lie in [1, {logits.shape[1]}] (the vocabulary size), got {k}")
    kth_largest = np.sort(logits, axis=1)[:, -k][:, None]  # (b, 1)
    return np.where(logits >= kth_largest, logits, -np.inf).astype(logits.dtype)


def top_p_logits(logits, p):
    """(b, v) logits outside the top-p "nucleus" of each row set to −inf.

    The nucleus is the smallest set of most probable tokens whose softmax mass
    reaches p: sort probabilities in decreasing order and keep a token while
    the mass of the tokens before it is still below p. The most likely token
    is always kept (nothing comes before it).
    """
    logits = _logits_2d(logits)
    p = float(p)
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    z = logits.astype(np.float64)
    probabilities = np.exp(z - z.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    order = np.argsort(-probabilities, axis=1, kind="stable")  # most probable first
    sorted_probabilities = np.take_along_axis(probabilities, order, axis=1)
    mass_before = np.cumsum(sorted_probabilities, axis=1) - sorted_probabilities
    keep_sorted = mass_before < p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=1)  # back to vocabulary order
    return np.where(keep, logits, -np.inf).astype(logits.dtype)


def perplexity(y_true, logits):
    """exp(mean next-token cross-entropy), natural log, over every position.

    y_true (…,) ints and logits (…, v) with the same leading shape, e.g. (b, t)
    and (b, t, v). The cross-entropy uses a stable log-softmax:
    log softmax(z)_j = z_j − max z − log Σ e^(z − max z).
    """
    y_true = as_array(y_true, "y_true", dtype="int")
    logits = as_array(logits, "logits", min_ndim=1, dtype="float")
    if logits.shape[:-1] != y_true.shape:
        raise ValueError(
            f"logits must have shape y_true.shape + (vocabulary,), got y_true {y_true.shape} and logits {logits.shape}"
        )
    v = logits.shape[-1]
    if y_true.size and (y_true.min() < 0 or y_true.max() >= v):
        raise ValueError(f"y_true must hold token ids in [0, {v - 1}], got [{y_true.min()}, {y_true.max()}]")
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    log_p = np.take_along_axis(log_softmax, y_true[..., None], axis=-1)
    return float(np.exp(-log_p.mean()))  # float64: e^L stays finite for L up to ~709 nats


# --------------------------------------------------------------------------- tokenizers


class ByteTokenizer:
    """UTF-8 bytes as token ids (vocabulary 256): every text encodes, no unknown characters.

    A Chinese character is 3 bytes, so a byte-level model sees 3 tokens for it
    where a character-level one sees 1. ``decode`` replaces a cut-off multi-byte
    character with U+FFFD, as keras-hub's ``ByteTokenizer`` does.
    """

    vocabulary_size = 256

    def encode(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32)

    def decode(self, ids) -> str:
        ids = as_array(ids, "ids", ndim=1, dtype="int")
        if ids.size and (ids.min() < 0 or ids.max() > 255):
            raise ValueError(f"byte ids must lie in [0, 255], got [{ids.min()}, {ids.max()}]")
        return bytes(ids.astype(np.uint8).tolist()).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- data


@dataclass
class TextData:
    """A text ready for a character-level LM: its tokenizer and the two id arrays (int32)."""

    tokenizer: CharTokenizer
    train_ids: np.ndarray
    val_ids: np.ndarray

    @property
    def vocabulary_size(self) -> int:
        return self.tokenizer.vocabulary_size


def prepare_text(text: str, sequence_length: int, validation_fraction: float = 0.1, name: str = "text") -> TextData:
    """Character tokenizer over the whole text, then a train/validation split at a line start.

    The vocabulary comes from the whole text so the validation split has no
    unknown characters. Each split must hold at least one window of
    ``sequence_length + 1`` characters, or a ``ValueError`` says how long
    the text must be.
    """
    from course.data import split_text

    sequence_length = require_positive_int(sequence_length, "sequence_length")
    train, val = split_text(text, validation_fraction)
    need = sequence_length + 1
    if len(train) < need or len(val) < need:
        minimum = int(np.ceil(need / validation_fraction)) + need
        raise ValueError(
            f"{name} is too short for a context of {sequence_length} characters: its training and validation "
            f"parts have {len(train)} and {len(val)} characters, each needs at least {need} "
            f"(give a text of at least about {minimum} characters, or a shorter --seq-len)"
        )
    tokenizer = CharTokenizer(text)
    return TextData(tokenizer, tokenizer.encode(train), tokenizer.encode(val))


def random_windows(ids, sequence_length: int, batch_size: int, seed: int, step):
    """The global batch of training step ``step``: ``batch_size`` windows of t+1 tokens, (b, t+1) int32.

    Window starts are drawn with a stateless RNG keyed by (seed, step), so the
    batch is a pure function of the step: every strategy, every worker layout
    and a resumed run see exactly the same batches. ``ids`` is a 1-D tensor.
    """
    import tensorflow as tf

    step = tf.cast(step, tf.int64)
    count = tf.cast(tf.shape(ids)[0], tf.int64) - sequence_length  # number of possible starts
    starts = tf.random.stateless_uniform(
        [batch_size], seed=tf.stack([tf.constant(seed, tf.int64), step]), minval=0, maxval=count, dtype=tf.int64
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
