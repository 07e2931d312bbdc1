"""Chapter 2 — judging translations: exact match, token accuracy, and both by source length.

A prediction is read up to its first ``<end>``; a sentence is an exact match when every
token and the length agree.
"""

from __future__ import annotations

import numpy as np

from tinyllm.seq2seq import greedy_decode
from tinyllm.tokenizers import END_ID, PAD_ID
from tinyllm.validation import as_array


def _until_end(row) -> tuple:
    """Ids up to and including the first <end> (all of them if there is none), padding dropped."""
    out = []
    for i in row:
        if i == PAD_ID:
            continue
        out.append(int(i))
        if i == END_ID:
            break
    return tuple(out)


def _check_pair(predicted, targets):
    predicted = as_array(predicted, "predicted", ndim=2, dtype="int")
    targets = as_array(targets, "targets", ndim=2, dtype="int")
    if len(predicted) != len(targets):
        raise ValueError(
            f"predicted and targets must have the same number of rows, got {len(predicted)} "
            f"and {len(targets)}"
        )
    return predicted, targets


def exact_match_per_sentence(predicted, targets) -> np.ndarray:
    """(b,) bool: the predicted ids equal the target ids up to and including <end>."""
    predicted, targets = _check_pair(predicted, targets)
    return np.array(
        [_until_end(p) == _until_end(t) for p, t in zip(predicted, targets)], dtype=bool
    )


def exact_match(predicted, targets) -> float:
    """Fraction of sentences translated exactly (every word and the <end>, nothing extra)."""
    return float(exact_match_per_sentence(predicted, targets).mean())


def token_accuracy_per_sentence(predicted, targets) -> np.ndarray:
    """(b,) float: fraction of target positions (words and <end>) where the prediction has the same
    id.

    Position by position: a dropped or inserted word shifts everything after it, which
    counts as wrong, as it should for free-running output.
    """
    predicted, targets = _check_pair(predicted, targets)
    width = max(predicted.shape[1], targets.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])))  # noqa: E731
    predicted, targets = pad(predicted), pad(targets)
    mask = targets != PAD_ID
    return ((predicted == targets) & mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


def token_accuracy(predicted, targets) -> float:
    """Fraction of all target tokens (words and <end>, not padding) predicted at the right
    position."""
    predicted, targets = _check_pair(predicted, targets)
    width = max(predicted.shape[1], targets.shape[1])
    predicted = np.pad(predicted, ((0, 0), (0, width - predicted.shape[1])))
    targets = np.pad(targets, ((0, 0), (0, width - targets.shape[1])))
    mask = targets != PAD_ID
    return float(((predicted == targets) & mask).sum() / max(mask.sum(), 1))


def accuracy_by_length(source_lengths, predicted, targets) -> dict:
    """Accuracy grouped by source length: ``{"length", "count", "exact_match", "token_accuracy"}``
    arrays.

    One entry per distinct length, sorted; token accuracy is pooled over the tokens of
    that length's sentences.
    """
    lengths = as_array(source_lengths, "source_lengths", ndim=1, dtype="int")
    exact = exact_match_per_sentence(predicted, targets)
    if len(lengths) != len(exact):
        raise ValueError(f"source_lengths has {len(lengths)} entries for {len(exact)} sentences")
    predicted, targets = _check_pair(predicted, targets)
    result = {"length": [], "count": [], "exact_match": [], "token_accuracy": []}
    for length in np.unique(lengths):
        rows = lengths == length
        result["length"].append(int(length))
        result["count"].append(int(rows.sum()))
        result["exact_match"].append(float(exact[rows].mean()))
        result["token_accuracy"].append(token_accuracy(predicted[rows], targets[rows]))
    return {k: np.array(v) for k, v in result.items()}


def evaluate(model, split, max_length: int | None = None, decode=greedy_decode) -> dict:
    """Decode ``split`` and score it: ``exact_match``, ``token_accuracy``, ``by_length``,
    ``predicted``."""
    max_length = split.targets.shape[1] if max_length is None else max_length
    predicted = decode(model, split.encoder_inputs, max_length=max_length)
    return {
        "exact_match": exact_match(predicted, split.targets),
        "token_accuracy": token_accuracy(predicted, split.targets),
        "by_length": accuracy_by_length(split.source_lengths, predicted, split.targets),
        "predicted": predicted,
    }
