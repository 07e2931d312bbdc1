"""Chapter 6 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise


def _ids(*values):
    return np.array(values, dtype=np.int64)


@exercise(
    "ch06.build_sft_example",
    "build_sft_example(prompt_ids, response_ids, end_id, pad_id, length)",
    "s = prompt + response + [end_id] padded with pad_id to length+1; (inputs s[:-1], targets "
    "s[1:], "
    "loss_mask (length,) float32: 1 where the target is a response or the end token)",
)
def build_sft_example_cases():
    return [
        Case(
            "prompt of 3, response of 2, padded to length 8",
            (_ids(11, 12, 13), _ids(21, 22), 1, 0, 8),
            hint="s = prompt + response + [end_id] = [11, 12, 13, 21, 22, 1], padded with "
            "pad_id to length + 1 = 9 tokens; "
            "inputs = s[:-1] and targets = s[1:] (both of length 8), and the mask is 1 on the "
            "targets 21, "
            "22 and 1 — positions 2, 3, 4 — and 0 elsewhere",
        ),
        Case(
            "the mask follows the targets, not the inputs",
            (_ids(5, 6), _ids(7, 8, 9), 2, 0, 7),
            hint="targets[i] = s[i+1]: the first response token is the target at i = "
            "len(prompt) - 1, "
            "where the input is the last prompt token — the mask is shifted one left of where the "
            "response sits in s",
        ),
        Case(
            "the end token is learned too",
            (
                _ids(3, 4, 5, 6),
                _ids(
                    8,
                ),
                9,
                0,
                8,
            ),
            hint="the model must learn to stop: the target end_id gets mask 1 (one position "
            "after the last "
            "response token), the padding after it 0",
        ),
        Case(
            "padding uses pad_id",
            (_ids(14, 15), _ids(16, 17), 1, 27, 9),
            hint="fill s up to length + 1 with pad_id (27 here), not with 0 or end_id; "
            "padding targets get "
            "mask 0",
        ),
        Case(
            "an example that fills the length exactly",
            (_ids(2, 3, 4), _ids(5, 6, 7, 8), 1, 0, 7),
            hint="3 + 4 + 1 = 8 = length + 1 tokens: no padding, and the mask ends on the "
            "last position",
        ),
        Case(
            "an empty response: only the end token is a target",
            (_ids(10, 11, 12), _ids(), 1, 0, 5),
            hint="with no response, s = prompt + [end_id] and the mask is 1 at one position, "
            "len(prompt) - 1",
        ),
        Case(
            "a one-token prompt",
            (_ids(4), _ids(6, 7), 1, 0, 5),
            hint="the first target (s[1], the first response token) is already learned: "
            "mask[0] = 1",
        ),
    ]


def _lora(seed, shape_x, d_in, d_out, rank, b_zero=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape_x + (d_in,)).astype(np.float32)
    w = rng.normal(size=(d_in, d_out)).astype(np.float32)
    a = rng.normal(size=(d_in, rank)).astype(np.float32)
    b = (
        np.zeros((rank, d_out), np.float32)
        if b_zero
        else rng.normal(size=(rank, d_out)).astype(np.float32)
    )
    return x, w, a, b


@exercise(
    "ch06.lora_forward",
    "lora_forward(x, w, a, b, alpha)",
    "x (…, d_in), frozen w (d_in, d_out), a (d_in, r), b (r, d_out): x·w + (alpha / r)·(x·a)·b",
    rtol=1e-4,
    atol=1e-4,
)
def lora_forward_cases():
    return [
        Case(
            "b = 0, as at the start of training: the frozen layer",
            (*_lora(60, (2,), 4, 3, 2, b_zero=True), 2.0),
            hint="with b = 0 the low-rank path adds nothing: the output is x·w, shape (…, d_out)",
        ),
        Case(
            "alpha = r: scale 1",
            (*_lora(61, (3,), 2, 4, 2), 2.0),
            hint="add the low-rank path to the frozen one: x·w + (x·a)·b (x·a is (…, r), "
            "times b gives (…, d_out))",
        ),
        Case(
            "alpha = 8, r = 2: scale alpha / r = 4",
            (*_lora(62, (2,), 6, 3, 2), 8.0),
            hint="scale the low-rank path only, by alpha / r where r = a.shape[1] (the rank), "
            "not by alpha, "
            "not by r / alpha, and not the frozen x·w",
        ),
        Case(
            "d_in = 5, r = 3, d_out = 2",
            (*_lora(63, (4,), 5, 2, 3), 6.0),
            hint="r is the number of columns of a (its second axis), not d_in; w is (d_in, "
            "d_out): use it "
            "as it is, not transposed",
        ),
        Case(
            "a batch of sequences (b, t, d_in)",
            (*_lora(64, (2, 3), 4, 5, 2), 4.0),
            hint="x may have any number of leading axes: multiply along its last axis (x @ w "
            "works for every shape)",
        ),
    ]


@exercise(
    "ch06.rouge_l_f1",
    "rouge_l_f1(candidate, reference)",
    "words split on whitespace; L = |LCS|, P = L/|candidate|, R = L/|reference|, F1 = 2PR/(P+R); 0 "
    "when L = 0",
)
def rouge_l_f1_cases():
    return [
        Case(
            "identical summaries",
            ("mia forest saw fox", "mia forest saw fox"),
            hint="every word in order: L = 4, P = R = 1, F1 = 1.0",
        ),
        Case(
            "words, not characters",
            ("tom river", "tim rover"),
            hint="compare whole words (candidate.split()), not characters: no word is shared, "
            "so F1 = 0.0 "
            "(return it without dividing by zero)",
        ),
        Case(
            "a word missing",
            ("mia saw fox", "mia forest saw fox"),
            hint="L = 3 (mia saw fox), P = 3/3, R = 3/4, F1 = 2PR/(P+R) = 6/7 — the harmonic "
            "mean, not (P+R)/2",
        ),
        Case(
            "order matters: a subsequence, not a bag of words",
            ("saw fox mia forest", "mia forest saw fox"),
            hint="the longest common SUBSEQUENCE keeps the order: 'mia forest' or 'saw fox', "
            "L = 2, F1 = 0.5; "
            "counting shared words (ROUGE-1) would give 1.0",
        ),
        Case(
            "a subsequence may skip words",
            ("mia found red ball gave hat", "mia forest found ball gave red hat to tom"),
            hint="the common words need not be next to each other: 'mia found ball gave hat' "
            "is a common "
            "subsequence (L = 5); the longest common substring would be only 'gave'",
        ),
        Case(
            "the best match is not the first match",
            ("a b c", "b c a"),
            hint="matching each candidate word to its first later occurrence (greedy) finds "
            "only 'a' here; "
            "the LCS is 'b c' — use dynamic programming: T[i][j] = T[i-1][j-1] + 1 if the words "
            "match, "
            "else max(T[i-1][j], T[i][j-1])",
        ),
        Case(
            "repeated words",
            ("ben ben", "ben saw ben"),
            hint="a repeated word counts each time it is matched: the LCS is 'ben ben' (L = "
            "2), so P = 2/2, "
            "R = 2/3 — do not turn the words into a set",
        ),
        Case(
            "extra spaces are not words",
            ("  leo   castle  ", "leo castle nothing"),
            hint="split on any whitespace (str.split() with no argument): split(' ') makes "
            "empty 'words'",
        ),
        Case(
            "an empty candidate",
            ("", "zoe garden nothing"),
            hint="no words, no common subsequence: return 0.0 (not a division by zero)",
        ),
        Case(
            "words are compared exactly",
            ("Mia Forest", "mia forest"),
            hint="compare words exactly as they are written, without lower-casing: 'Mia' is "
            "not 'mia'",
        ),
    ]
