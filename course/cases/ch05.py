"""Chapter 5 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise

NEG = -np.inf


def _f32(rows):
    return np.array(rows, dtype=np.float32)


@exercise("ch05.lm_inputs_and_targets", "lm_inputs_and_targets(token_ids)",
          "(b, t+1) ints → (inputs (b, t), targets (b, t)) for next-token prediction")
def lm_inputs_and_targets_cases():
    return [
        Case("one window", (np.array([[5, 6, 7, 8, 9]]),),
             hint="inputs are every token but the last, targets every token but the first: "
                  "targets[:, j] is the token after inputs[:, j]"),
        Case("a batch of windows: shift along time, not along the batch",
             (np.array([[1, 2, 3, 4], [10, 20, 30, 40], [7, 8, 9, 10]]),),
             hint="slice the second axis (time) — token_ids[:, :-1] and token_ids[:, 1:] — not the first (batch)"),
        Case("windows of two tokens", (np.array([[3, 4], [0, 1]]),),
             hint="(b, 2) gives inputs (b, 1) and targets (b, 1); return the pair (inputs, targets) in that order"),
        Case("more windows than tokens per window", (np.arange(20).reshape(5, 4) % 7,),
             hint="the batch axis keeps its size b; only the time axis loses one token"),
    ]


@exercise("ch05.top_k_logits", "top_k_logits(logits, k)",
          "(b, v): logits below the k-th largest of each row set to −inf; ties with the k-th value kept")
def top_k_logits_cases():
    return [
        Case("one row, k=2", (_f32([[1.0, 3.0, 2.0, 0.5]]), 2),
             hint="keep the 2 largest logits as they are and set every other entry to -inf (np.inf, not 0)"),
        Case("negative logits", (_f32([[-1.0, -3.0, -0.5, -2.0, -4.0]]), 3),
             hint="set dropped entries to -inf: 0 would be larger than the kept negative logits"),
        Case("each row has its own k-th largest", (_f32([[0.1, 0.9, 0.5, 0.3], [4.0, 1.0, 2.0, 3.0]]), 2),
             hint="find the k-th largest of every row (sort along axis 1), not of the whole batch"),
        Case("k=1 keeps only the maximum", (_f32([[2.0, 7.0, -1.0], [0.0, -5.0, -0.1]]), 1),
             hint="the k-th largest of a row sorted in decreasing order is at index k-1"),
        Case("ties with the k-th value are kept", (_f32([[1.0, 2.0, 2.0, 0.0]]), 1),
             hint="compare logits >= (k-th largest value) instead of keeping exactly k indices"),
        Case("k equal to the vocabulary keeps everything", (_f32([[0.3, -0.2, 1.5]]), 3),
             hint="with k = v nothing is dropped"),
    ]


@exercise("ch05.top_p_logits", "top_p_logits(logits, p)",
          "(b, v): keep the smallest set of most probable tokens whose softmax mass reaches p; the rest −inf")
def top_p_logits_cases():
    log = lambda *probabilities: np.log(np.array([probabilities], dtype=np.float32))  # noqa: E731
    return [
        Case("probabilities 0.5, 0.3, 0.15, 0.05 with p=0.7", (log(0.5, 0.3, 0.15, 0.05), 0.7),
             hint="sort by probability, keep tokens until their mass reaches p: 0.5 < 0.7, 0.5+0.3 ≥ 0.7, "
                  "so keep the first two — the token that crosses p is kept"),
        Case("unsorted vocabulary", (log(0.05, 0.15, 0.5, 0.3), 0.7),
             hint="sort the probabilities (decreasing), decide in sorted order, then put the decisions back "
                  "in vocabulary order"),
        Case("logits, not probabilities", (_f32([[2.0, 1.0, 0.0, -1.0]]), 0.8),
             hint="apply the softmax first: these are logits (probabilities 0.64, 0.24, 0.09, 0.03)"),
        Case("a small p still keeps the most likely token", (_f32([[0.0, 3.0, 1.0]]), 0.05),
             hint="the top token is always kept, even when its probability alone exceeds p"),
        Case("each row has its own nucleus", (_f32([[3.0, 0.0, 0.0, 0.1], [0.2, 0.1, 0.0, -0.1]]), 0.9),
             hint="softmax, sort and cumulate each row separately (axis 1); a flat row needs more tokens"),
        Case("p=1 keeps everything", (_f32([[1.0, 2.0, 3.0]]), 1.0),
             hint="the mass before the last token is below 1, so every token is kept"),
    ]


@exercise("ch05.perplexity", "perplexity(y_true, logits)",
          "exp of the mean next-token cross-entropy (natural log) over all positions", rtol=1e-4, atol=1e-5)
def perplexity_cases():
    rng = np.random.default_rng(5)
    y = np.array([[0, 2, 1], [3, 3, 0]])
    logits = rng.normal(0, 2, size=(2, 3, 4)).astype(np.float32)
    return [
        Case("uniform logits: perplexity = vocabulary size",
             (np.array([[0, 1, 2, 3, 4]]), np.zeros((1, 5, 5), np.float32)),
             hint="softmax of equal logits is uniform, cross-entropy log 5, perplexity e^(log 5) = 5"),
        Case("a batch of sequences", (y, logits),
             hint="cross-entropy -log softmax(logits)[y] at every position, the mean over all of them, then exp"),
        Case("sequences of different difficulty", (np.array([[1, 1], [0, 2]]),
                                                   np.array([[[0, 5, 0], [0, 5, 0]], [[0, 0, 0], [1, 0, 2]]],
                                                            np.float32)),
             hint="take the mean cross-entropy over every position first and exp it once — not the mean of "
                  "per-sequence or per-position perplexities"),
        Case("large logits stay finite", (np.array([[0, 1]]), np.array([[[800.0, 0.0], [0.0, 1000.0]]], np.float32)),
             hint="use a stable log-softmax (subtract the row maximum): e^800 overflows"),
        Case("targets are already aligned with the logits", (np.array([[2, 0, 1, 1]]),
                                                            np.eye(3, dtype=np.float32)[[[2, 0, 1, 1]]] * 3),
             hint="y_true[:, j] is the target of logits[:, j]; do not shift them again"),
    ]
