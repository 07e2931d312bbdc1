"""Chapter 6 — fine-tuning: a supervised example with its loss mask, the LoRA forward pass, ROUGE-L.

A supervised fine-tuning (SFT) example joins a prompt, its response and an end token, and is
trained with the pre-training objective, next-token prediction, on the response only:

    s = prompt + response + [end],  padded with pad_id to length + 1
    inputs = s[:−1],  targets = s[1:]
    loss_mask[i] = 1 where targets[i] is a response token or the end token, else 0

targets[i] = s[i+1], so the first response token is the target at i = len(prompt) − 1 and the
end token at i = len(prompt) + len(response) − 1.

LoRA (Hu et al., 2021) keeps a pre-trained kernel W (d_in, d_out) frozen and learns a rank-r
change, with Keras's layout (``Dense.enable_lora``) and scaling:

    y = x W + (α / r) · (x A) B,    A (d_in, r),  B (r, d_out)

ROUGE-L (Lin, 2004) scores a candidate summary against a reference by the longest common
subsequence (LCS) of their words: L = |LCS|, P = L / |candidate|, R = L / |reference|,
F1 = 2PR / (P + R), and 0 when L = 0.

These are the exercise answers, in NumPy and plain Python. The library never calls them:
:mod:`tinyllm.finetuning` does the same for the chapter's models, and the tests show they agree
(and agree with Keras).
"""

from __future__ import annotations

import numpy as np

from tinyllm.validation import as_array, require_positive_int


def build_sft_example(prompt_ids, response_ids, end_id, pad_id, length):
    """(inputs (length,), targets (length,), loss_mask (length,) float32) of one fine-tuning
    example."""
    prompt = as_array(prompt_ids, "prompt_ids", ndim=1, dtype="int").astype(np.int64)
    response = as_array(response_ids, "response_ids", ndim=1, dtype="int").astype(np.int64)
    length = require_positive_int(length, "length")
    if len(prompt) == 0:
        raise ValueError(
            "prompt_ids is empty: the first target needs at least one token to condition on"
        )
    sequence = np.concatenate([prompt, response, [int(end_id)]])
    if len(sequence) > length + 1:
        raise ValueError(
            f"prompt ({len(prompt)}) + response ({len(response)}) + end = {len(sequence)} tokens, "
            f"more than length + 1 = {length + 1}"
        )
    padded = np.full(length + 1, int(pad_id), np.int64)
    padded[: len(sequence)] = sequence
    loss_mask = np.zeros(length, np.float32)
    loss_mask[len(prompt) - 1 : len(sequence) - 1] = 1.0
    return padded[:-1], padded[1:], loss_mask


def lora_forward(x, w, a, b, alpha):
    """x (…, d_in) → x·w + (alpha / r)·(x·a)·b (…, d_out), r = a.shape[1]."""
    x = as_array(x, "x", min_ndim=1, dtype="float")
    w = as_array(w, "w", ndim=2, dtype="float")
    a = as_array(a, "a", ndim=2, dtype="float")
    b = as_array(b, "b", ndim=2, dtype="float")
    if x.shape[-1] != w.shape[0] or a.shape[0] != w.shape[0]:
        raise ValueError(f"x (…, {x.shape[-1]}), w {w.shape} and a {a.shape} must share d_in")
    if a.shape[1] != b.shape[0] or b.shape[1] != w.shape[1]:
        raise ValueError(
            f"a {a.shape}, b {b.shape} and w {w.shape} do not fit: a (d_in, r), b (r, d_out)"
        )
    rank = a.shape[1]
    return x @ w + (float(alpha) / rank) * ((x @ a) @ b)


def rouge_l_f1(candidate, reference):
    """ROUGE-L F1 of two strings of whitespace-separated words."""
    if not isinstance(candidate, str) or not isinstance(reference, str):
        raise TypeError("candidate and reference must be strings")
    c, r = candidate.split(), reference.split()
    if not c or not r:
        return 0.0
    table = np.zeros((len(c) + 1, len(r) + 1), np.int64)  # table[i, j] = |LCS(c[:i], r[:j])|
    for i, word in enumerate(c, start=1):
        for j, other in enumerate(r, start=1):
            table[i, j] = (
                table[i - 1, j - 1] + 1 if word == other else max(table[i - 1, j], table[i, j - 1])
            )
    common = int(table[-1, -1])
    if common == 0:
        return 0.0
    precision, recall = common / len(c), common / len(r)
    return 2 * precision * recall / (precision + recall)
