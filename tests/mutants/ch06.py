"""Chapter 6: the classic mistakes, each of which the public cases must catch."""

import numpy as np
import tensorflow as tf


def _sequence(prompt_ids, response_ids, end_id, pad_id, length):
    s = np.concatenate(
        [np.asarray(prompt_ids, np.int64), np.asarray(response_ids, np.int64), [end_id]]
    )
    return (
        np.concatenate([s, np.full(length + 1 - len(s), pad_id, np.int64)]),
        len(prompt_ids),
        len(s),
    )


# --- build_sft_example
# every real token is learned
def sft_mask_on_prompt(prompt_ids, response_ids, end_id, pad_id, length):
    s, p, n = _sequence(prompt_ids, response_ids, end_id, pad_id, length)
    mask = np.zeros(length, np.float32)
    mask[: n - 1] = 1
    return s[:-1], s[1:], mask


# marks where the response sits in s
def sft_mask_on_inputs(prompt_ids, response_ids, end_id, pad_id, length):
    s, p, n = _sequence(prompt_ids, response_ids, end_id, pad_id, length)
    mask = np.zeros(length, np.float32)
    mask[p:n] = 1
    return s[:-1], s[1:], mask[:length]


def sft_no_end_in_mask(prompt_ids, response_ids, end_id, pad_id, length):
    s, p, n = _sequence(prompt_ids, response_ids, end_id, pad_id, length)
    mask = np.zeros(length, np.float32)
    mask[p - 1 : n - 2] = 1
    return s[:-1], s[1:], mask


# from the response to the end
def sft_mask_on_padding(prompt_ids, response_ids, end_id, pad_id, length):
    s, p, n = _sequence(prompt_ids, response_ids, end_id, pad_id, length)
    mask = np.zeros(length, np.float32)
    mask[p - 1 :] = 1
    return s[:-1], s[1:], mask


def sft_pad_with_zero(prompt_ids, response_ids, end_id, pad_id, length):
    return _reference_sft(prompt_ids, response_ids, end_id, 0, length)


def sft_pad_with_end(prompt_ids, response_ids, end_id, pad_id, length):
    return _reference_sft(prompt_ids, response_ids, end_id, end_id, length)


# the model never learns to stop
def sft_no_end_token(prompt_ids, response_ids, end_id, pad_id, length):
    s = np.concatenate([np.asarray(prompt_ids, np.int64), np.asarray(response_ids, np.int64)])
    s = np.concatenate([s, np.full(length + 1 - len(s), pad_id, np.int64)])
    mask = np.zeros(length, np.float32)
    mask[len(prompt_ids) - 1 : len(prompt_ids) + len(response_ids) - 1] = 1
    return s[:-1], s[1:], mask


# s of `length` tokens, one short
def sft_pad_to_length(prompt_ids, response_ids, end_id, pad_id, length):
    s, p, n = _sequence(prompt_ids, response_ids, end_id, pad_id, length)
    s = s[:length]
    mask = np.zeros(length - 1, np.float32)
    mask[p - 1 : n - 1] = 1
    return s[:-1], s[1:], mask


# inputs = targets = s[:length]
def sft_inputs_unshifted(prompt_ids, response_ids, end_id, pad_id, length):
    s, p, n = _sequence(prompt_ids, response_ids, end_id, pad_id, length)
    mask = np.zeros(length, np.float32)
    mask[p - 1 : n - 1] = 1
    return s[:-1], s[:-1], mask


def _reference_sft(prompt_ids, response_ids, end_id, pad_id, length):
    s, p, n = _sequence(prompt_ids, response_ids, end_id, pad_id, length)
    mask = np.zeros(length, np.float32)
    mask[p - 1 : n - 1] = 1
    return s[:-1], s[1:], mask


# --- lora_forward
def lora_no_scale(x, w, a, b, alpha):
    return x @ w + (x @ a) @ b


def lora_scale_alpha(x, w, a, b, alpha):
    return x @ w + alpha * ((x @ a) @ b)


def lora_scale_inverted(x, w, a, b, alpha):
    return x @ w + (a.shape[1] / alpha) * ((x @ a) @ b)


def lora_scale_everything(x, w, a, b, alpha):
    return (alpha / a.shape[1]) * (x @ w + (x @ a) @ b)


def lora_rank_from_rows(x, w, a, b, alpha):  # r taken as a.shape[0] = d_in
    return x @ w + (alpha / a.shape[0]) * ((x @ a) @ b)


def lora_delta_only(x, w, a, b, alpha):  # forgets the frozen layer
    return (alpha / a.shape[1]) * ((x @ a) @ b)


def lora_two_dimensional(x, w, a, b, alpha):  # works for (n, d_in) only
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError("expected a 2-D x")
    return x @ w + (alpha / a.shape[1]) * ((x @ a) @ b)


# --- rouge_l_f1
def _lcs(c, r):
    table = np.zeros((len(c) + 1, len(r) + 1), int)
    for i in range(1, len(c) + 1):
        for j in range(1, len(r) + 1):
            table[i, j] = (
                table[i - 1, j - 1] + 1
                if c[i - 1] == r[j - 1]
                else max(table[i - 1, j], table[i, j - 1])
            )
    return int(table[-1, -1])


def _f1(common, nc, nr):
    if common == 0 or nc == 0 or nr == 0:
        return 0.0
    p, r = common / nc, common / nr
    return 2 * p * r / (p + r)


def rouge_characters(candidate, reference):
    c, r = list(candidate.replace(" ", "")), list(reference.replace(" ", ""))
    return _f1(_lcs(c, r), len(c), len(r))


def rouge_unigram_overlap(candidate, reference):  # ROUGE-1: shared words, order ignored
    from collections import Counter

    c, r = candidate.split(), reference.split()
    return _f1(sum((Counter(c) & Counter(r)).values()), len(c), len(r))


def rouge_substring(candidate, reference):  # longest common contiguous run of words
    c, r = candidate.split(), reference.split()
    best = 0
    for i in range(len(c)):
        for j in range(len(r)):
            k = 0
            while i + k < len(c) and j + k < len(r) and c[i + k] == r[j + k]:
                k += 1
            best = max(best, k)
    return _f1(best, len(c), len(r))


def rouge_greedy(candidate, reference):  # each word matched to its first later occurrence
    c, r = candidate.split(), reference.split()
    position, common = 0, 0
    for word in c:
        if word in r[position:]:
            position = r.index(word, position) + 1
            common += 1
    return _f1(common, len(c), len(r))


def rouge_arithmetic_mean(candidate, reference):
    c, r = candidate.split(), reference.split()
    common = _lcs(c, r)
    return 0.0 if common == 0 else (common / len(c) + common / len(r)) / 2


def rouge_recall_only(candidate, reference):
    c, r = candidate.split(), reference.split()
    return _lcs(c, r) / len(r) if r else 0.0


def rouge_split_space(candidate, reference):
    c, r = candidate.split(" "), reference.split(" ")
    return _f1(_lcs(c, r), len(c), len(r))


# rouge-score's tokenizer lower-cases; the contract compares exactly
def rouge_lowercase(candidate, reference):
    c, r = candidate.lower().split(), reference.lower().split()
    return _f1(_lcs(c, r), len(c), len(r))


def rouge_set_of_words(candidate, reference):  # repeated words counted once
    c, r = list(dict.fromkeys(candidate.split())), list(dict.fromkeys(reference.split()))
    return _f1(_lcs(c, r), len(c), len(r))


def rouge_divides_by_zero(candidate, reference):
    c, r = candidate.split(), reference.split()
    common = _lcs(c, r)
    p, rec = common / len(c), common / len(r)
    return 2 * p * rec / (p + rec)


MUTANTS = {
    "ch06.build_sft_example": [
        sft_mask_on_prompt,
        sft_mask_on_inputs,
        sft_no_end_in_mask,
        sft_mask_on_padding,
        sft_pad_with_zero,
        sft_pad_with_end,
        sft_no_end_token,
        sft_pad_to_length,
        sft_inputs_unshifted,
    ],
    "ch06.lora_forward": [
        lora_no_scale,
        lora_scale_alpha,
        lora_scale_inverted,
        lora_scale_everything,
        lora_rank_from_rows,
        lora_delta_only,
        lora_two_dimensional,
    ],
    "ch06.rouge_l_f1": [
        rouge_characters,
        rouge_unigram_overlap,
        rouge_substring,
        rouge_greedy,
        rouge_arithmetic_mean,
        rouge_recall_only,
        rouge_split_space,
        rouge_lowercase,
        rouge_set_of_words,
        rouge_divides_by_zero,
    ],
}


# --- correct answers written differently
def sft_by_lists(prompt_ids, response_ids, end_id, pad_id, length):
    s = list(prompt_ids) + list(response_ids) + [end_id]
    if len(s) > length + 1 or not len(prompt_ids):
        raise ValueError("does not fit")
    labels = [0.0] * (len(prompt_ids) - 1) + [1.0] * (len(response_ids) + 1)
    s += [pad_id] * (length + 1 - len(s))
    labels += [0.0] * (length - len(labels))
    return np.array(s[:-1]), np.array(s[1:]), np.array(labels, np.float32)


def sft_from_positions(prompt_ids, response_ids, end_id, pad_id, length):
    s, p, n = _sequence(prompt_ids, response_ids, end_id, pad_id, length)
    positions = np.arange(1, length + 1)  # the position in s of each target
    mask = ((positions >= p) & (positions < n)).astype(np.float32)
    return s[:-1], s[1:], mask


def lora_merged_kernel(x, w, a, b, alpha):  # what Keras's Dense does: merge, then one matmul
    return np.asarray(x) @ (w + (alpha / a.shape[1]) * (a @ b))


def lora_keras_dense(x, w, a, b, alpha):
    import keras

    layer = keras.layers.Dense(w.shape[1], use_bias=False)
    layer.build((None, w.shape[0]))
    layer.kernel.assign(w)
    layer.enable_lora(a.shape[1], lora_alpha=alpha)
    layer.lora_kernel_a.assign(a)
    layer.lora_kernel_b.assign(b)
    return keras.ops.convert_to_numpy(layer(tf.constant(x)))


def lora_einsum(x, w, a, b, alpha):
    return np.einsum("...i,ij->...j", x, w) + alpha / a.shape[1] * np.einsum(
        "...i,ir,rj->...j", x, a, b
    )


def rouge_recursive(candidate, reference):
    from functools import lru_cache

    c, r = tuple(candidate.split()), tuple(reference.split())

    @lru_cache(maxsize=None)
    def lcs(i, j):
        if i == len(c) or j == len(r):
            return 0
        return 1 + lcs(i + 1, j + 1) if c[i] == r[j] else max(lcs(i + 1, j), lcs(i, j + 1))

    return _f1(lcs(0, 0), len(c), len(r))


def rouge_library(candidate, reference):  # Google's rouge-score, told to split on whitespace only
    from rouge_score import rouge_scorer

    class Words:
        def tokenize(self, text):
            return text.split()

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=Words())
    return scorer.score(reference, candidate)["rougeL"].fmeasure


ALTERNATIVES = {
    "ch06.build_sft_example": [sft_by_lists, sft_from_positions],
    "ch06.lora_forward": [lora_merged_kernel, lora_keras_dense, lora_einsum],
    "ch06.rouge_l_f1": [rouge_recursive, rouge_library],
}
