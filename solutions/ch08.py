"""Chapter 8 — byte-level byte-pair encoding (BPE), the exercise answers.

A text starts as its UTF-8 bytes, ids 0…255. Training repeats, ``num_merges`` times:

    (a, b) = the adjacent pair that occurs most often (every position counted; ties: earliest
             first occurrence)
    replace every (a, b), left to right without overlap, by a new id 256 + k

Encoding replays the merges in their order; decoding concatenates the bytes of every id
and decodes them as UTF-8 with ``errors="replace"``, so a cut inside a character gives U+FFFD.

These work on the whole text as one sequence; :mod:`tinyllm.bpe` splits the text into
pre-tokens first (as GPT-2 does) and gives the same merges and ids when it does not split.
"""

from __future__ import annotations


def _ints(ids, name="ids"):
    values = []
    for value in ids:
        if isinstance(value, bool) or not float(value).is_integer():
            raise TypeError(f"{name} must hold integers, got {value!r}")
        values.append(int(value))
    return values


def most_frequent_pair(ids):
    """The adjacent pair (a, b) seen most often in ``ids``; ties → the pair that occurs first."""
    ids = _ints(ids)
    if len(ids) < 2:
        raise ValueError(f"ids needs at least 2 elements to hold a pair, got {len(ids)}")
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1  # dicts keep insertion order: first occurrence first
    best = max(counts.values())
    return next(pair for pair, count in counts.items() if count == best)


def merge_pair(ids, pair, new_id):
    """``ids`` with every (a, b) replaced by ``new_id``, scanning left to right without overlap."""
    ids = _ints(ids)
    a, b = _ints(pair, "pair")
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            merged.append(int(new_id))
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def bpe_train(text, num_merges):
    """The ``num_merges`` merged pairs of byte-level BPE on ``text``, in order (merge k makes id 256
    + k)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    ids = list(text.encode("utf-8"))
    merges = []
    for k in range(int(num_merges)):
        if len(ids) < 2:
            break
        pair = most_frequent_pair(ids)
        ids = merge_pair(ids, pair, 256 + k)
        merges.append(pair)
    return merges


def bpe_encode(text, merges):
    """UTF-8 bytes of ``text``, then every merge applied in its order; a list of ints."""
    ids = list(text.encode("utf-8"))
    for k, pair in enumerate(merges):
        ids = merge_pair(ids, pair, 256 + k)
    return ids


def bpe_decode(ids, merges):
    """The bytes each id stands for, concatenated, decoded as UTF-8 (U+FFFD where a character is
    cut)."""
    vocab = {i: bytes([i]) for i in range(256)}
    for k, (a, b) in enumerate(merges):
        vocab[256 + k] = vocab[a] + vocab[b]
    unknown = [i for i in _ints(ids) if i not in vocab]
    if unknown:
        raise ValueError(f"id {unknown[0]} is not in the vocabulary of {len(vocab)} ids")
    return b"".join(vocab[i] for i in _ints(ids)).decode("utf-8", errors="replace")
