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

These are the exercise answers, in NumPy. The library never calls them (an exercise
function is a leaf: the student edition has none): :mod:`tinyllm.text_data`,
:mod:`tinyllm.gpt` and :mod:`tinyllm.sampling` do the same with TensorFlow, and the
tests show the two agree, and agree with keras-hub.
"""

from __future__ import annotations

import numpy as np

from solutions.ch04 import _layer_norm, transformer_block
from tinyllm.validation import as_array, require_positive_int


def lm_inputs_and_targets(token_ids):
    """Next-token pairs from windows of t+1 tokens: ``(inputs (b, t), targets (b, t))``.

    inputs = token_ids[:, :-1] and targets = token_ids[:, 1:], so targets[i, j]
    is the token that follows inputs[i, j] — the y_t of p(y_t | y_<t).
    """
    token_ids = as_array(token_ids, "token_ids", ndim=2, dtype="int")
    if token_ids.shape[1] < 2:
        raise ValueError(
            "token_ids must hold windows of at least 2 tokens (b, t+1), got shape "
            f"{token_ids.shape}"
        )
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
            f"logits must have shape y_true.shape + (vocabulary,), got y_true {y_true.shape} and "
            f"logits {logits.shape}"
        )
    v = logits.shape[-1]
    if y_true.size and (y_true.min() < 0 or y_true.max() >= v):
        raise ValueError(
            f"y_true must hold token ids in [0, {v - 1}], got [{y_true.min()}, {y_true.max()}]"
        )
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    log_p = np.take_along_axis(log_softmax, y_true[..., None], axis=-1)
    return float(np.exp(-log_p.mean()))  # float64: e^L stays finite for L up to ~709 nats


def gpt_forward(token_ids, params, num_heads):
    """The whole mini GPT in NumPy: token_ids (b, t) ints → logits (b, t, v).

        x = E[ids] + P[:t]                       token + position embeddings (t ≤ T)
        x = Block_l(x), l = 1 … L                ch04.transformer_block, causal
        logits = LN_final(x) · Eᵀ                final layer norm (ε 1e-5), tied output matrix

    ``params``: ``token_embedding`` (v, d), ``position_embedding`` (T, d), ``blocks`` (a list of
    block dicts), ``final_gamma``, ``final_beta`` (d,).
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    missing = [
        k
        for k in ("token_embedding", "position_embedding", "blocks", "final_gamma", "final_beta")
        if k not in params
    ]
    if missing:
        raise ValueError(f"params is missing {', '.join(missing)}")
    embedding = as_array(
        params["token_embedding"], "token_embedding", ndim=2, dtype="float"
    ).astype(np.float64)
    positions = as_array(params["position_embedding"], "position_embedding", ndim=2, dtype="float")
    ids = as_array(token_ids, "token_ids", ndim=2, dtype="int")
    v, d = embedding.shape
    if ids.size and (ids.min() < 0 or ids.max() >= v):
        raise ValueError(f"token_ids must lie in [0, {v - 1}], got [{ids.min()}, {ids.max()}]")
    if ids.shape[1] == 0:
        raise ValueError("token_ids must hold at least one position, got shape " + str(ids.shape))
    if ids.shape[1] > positions.shape[0]:
        raise ValueError(
            f"token_ids has {ids.shape[1]} positions; the model's context is {positions.shape[0]}"
        )
    if positions.shape[1] != d:
        raise ValueError(
            f"position_embedding must have depth d={d} like token_embedding, got {positions.shape}"
        )
    for key in ("final_gamma", "final_beta"):
        if np.shape(params[key]) != (d,):
            raise ValueError(f"params[{key!r}] must have shape ({d},), got {np.shape(params[key])}")
    if not isinstance(params["blocks"], (list, tuple)):
        raise TypeError(
            f"params['blocks'] must be a list of block dicts, got {type(params['blocks']).__name__}"
        )
    x = embedding[ids] + positions[: ids.shape[1]].astype(np.float64)
    for block in params["blocks"]:
        x = transformer_block(x, block, num_heads, causal=True)
    x = _layer_norm(
        x,
        np.asarray(params["final_gamma"], np.float64),
        np.asarray(params["final_beta"], np.float64),
    )
    return (x @ embedding.T).astype(np.float32)
