"""Chapter 5 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise

NEG = -np.inf


def _f32(rows):
    return np.array(rows, dtype=np.float32)


@exercise(
    "ch05.lm_inputs_and_targets",
    "lm_inputs_and_targets(token_ids)",
    "(b, t+1) ints → (inputs (b, t), targets (b, t)) for next-token prediction",
)
def lm_inputs_and_targets_cases():
    return [
        Case(
            "one window",
            (np.array([[5, 6, 7, 8, 9]]),),
            hint="inputs are every token but the last, targets every token but the first: "
            "targets[:, j] is the token after inputs[:, j]",
        ),
        Case(
            "a batch of windows: shift along time, not along the batch",
            (np.array([[1, 2, 3, 4], [10, 20, 30, 40], [7, 8, 9, 10]]),),
            hint="slice the second axis (time) — token_ids[:, :-1] and token_ids[:, 1:] — not "
            "the first (batch)",
        ),
        Case(
            "windows of two tokens",
            (np.array([[3, 4], [0, 1]]),),
            hint="(b, 2) gives inputs (b, 1) and targets (b, 1); return the pair (inputs, "
            "targets) in that order",
        ),
        Case(
            "more windows than tokens per window",
            (np.arange(20).reshape(5, 4) % 7,),
            hint="the batch axis keeps its size b; only the time axis loses one token",
        ),
    ]


@exercise(
    "ch05.top_k_logits",
    "top_k_logits(logits, k)",
    "(b, v): logits below the k-th largest of each row set to −inf; ties with the k-th value kept",
)
def top_k_logits_cases():
    return [
        Case(
            "one row, k=2",
            (_f32([[1.0, 3.0, 2.0, 0.5]]), 2),
            hint="keep the 2 largest logits as they are and set every other entry to -inf "
            "(np.inf, not 0)",
        ),
        Case(
            "negative logits",
            (_f32([[-1.0, -3.0, -0.5, -2.0, -4.0]]), 3),
            hint="set dropped entries to -inf: 0 would be larger than the kept negative logits",
        ),
        Case(
            "each row has its own k-th largest",
            (_f32([[0.1, 0.9, 0.5, 0.3], [4.0, 1.0, 2.0, 3.0]]), 2),
            hint="find the k-th largest of every row (sort along axis 1), not of the whole batch",
        ),
        Case(
            "k=1 keeps only the maximum",
            (_f32([[2.0, 7.0, -1.0], [0.0, -5.0, -0.1]]), 1),
            hint="the k-th largest of a row sorted in decreasing order is at index k-1",
        ),
        Case(
            "ties with the k-th value are kept",
            (_f32([[1.0, 2.0, 2.0, 0.0]]), 1),
            hint="compare logits >= (k-th largest value) instead of keeping exactly k indices",
        ),
        Case(
            "k equal to the vocabulary keeps everything",
            (_f32([[0.3, -0.2, 1.5]]), 3),
            hint="with k = v nothing is dropped",
        ),
    ]


@exercise(
    "ch05.top_p_logits",
    "top_p_logits(logits, p)",
    "(b, v): keep the smallest set of most probable tokens whose softmax mass reaches p; the rest "
    "−inf",
)
def top_p_logits_cases():
    log = lambda *probabilities: np.log(np.array([probabilities], dtype=np.float32))  # noqa: E731
    return [
        Case(
            "probabilities 0.5, 0.3, 0.15, 0.05 with p=0.7",
            (log(0.5, 0.3, 0.15, 0.05), 0.7),
            hint="sort by probability, keep tokens until their mass reaches p: 0.5 < 0.7, "
            "0.5+0.3 ≥ 0.7, "
            "so keep the first two — the token that crosses p is kept",
        ),
        Case(
            "unsorted vocabulary",
            (log(0.05, 0.15, 0.5, 0.3), 0.7),
            hint="sort the probabilities (decreasing), decide in sorted order, then put the "
            "decisions back "
            "in vocabulary order",
        ),
        Case(
            "logits, not probabilities",
            (_f32([[2.0, 1.0, 0.0, -1.0]]), 0.8),
            hint="apply the softmax first: these are logits (probabilities 0.64, 0.24, 0.09, 0.03)",
        ),
        Case(
            "a small p still keeps the most likely token",
            (_f32([[0.0, 3.0, 1.0]]), 0.05),
            hint="the top token is always kept, even when its probability alone exceeds p",
        ),
        Case(
            "each row has its own nucleus",
            (_f32([[3.0, 0.0, 0.0, 0.1], [0.2, 0.1, 0.0, -0.1]]), 0.9),
            hint="softmax, sort and cumulate each row separately (axis 1); a flat row needs "
            "more tokens",
        ),
        Case(
            "p=1 keeps everything",
            (_f32([[1.0, 2.0, 3.0]]), 1.0),
            hint="the mass before the last token is below 1, so every token is kept",
        ),
    ]


@exercise(
    "ch05.perplexity",
    "perplexity(y_true, logits)",
    "exp of the mean next-token cross-entropy (natural log) over all positions",
    rtol=1e-4,
    atol=1e-5,
)
def perplexity_cases():
    rng = np.random.default_rng(5)
    y = np.array([[0, 2, 1], [3, 3, 0]])
    logits = rng.normal(0, 2, size=(2, 3, 4)).astype(np.float32)
    return [
        Case(
            "uniform logits: perplexity = vocabulary size",
            (np.array([[0, 1, 2, 3, 4]]), np.zeros((1, 5, 5), np.float32)),
            hint="softmax of equal logits is uniform, cross-entropy log 5, perplexity e^(log "
            "5) = 5",
        ),
        Case(
            "a batch of sequences",
            (y, logits),
            hint="cross-entropy -log softmax(logits)[y] at every position, the mean over all "
            "of them, then exp",
        ),
        Case(
            "sequences of different difficulty",
            (
                np.array([[1, 1], [0, 2]]),
                np.array([[[0, 5, 0], [0, 5, 0]], [[0, 0, 0], [1, 0, 2]]], np.float32),
            ),
            hint="take the mean cross-entropy over every position first and exp it once — not "
            "the mean of "
            "per-sequence or per-position perplexities",
        ),
        Case(
            "large logits stay finite",
            (np.array([[0, 1]]), np.array([[[800.0, 0.0], [0.0, 1000.0]]], np.float32)),
            hint="use a stable log-softmax (subtract the row maximum): e^800 overflows",
        ),
        Case(
            "targets are already aligned with the logits",
            (np.array([[2, 0, 1, 1]]), np.eye(3, dtype=np.float32)[[[2, 0, 1, 1]]] * 3),
            hint="y_true[:, j] is the target of logits[:, j]; do not shift them again",
        ),
    ]


def _gpt_params(seed, v=11, T=8, d=8, layers=1, init=False):
    """Weights of a mini GPT, by the names of ch05.gpt_forward, float32; the MLP is 4d wide, like
    the chapter's.

    Every token embedding spreads ±2 and every position embedding ±12 about a mean of its own:
    activations that large make layer norm's ε hardly matter; layer-norm γ, β and biases are far
    from 1, 0, 0. ``init``: GPT-2's initial scales instead (weights N(0, 0.02²), biases 0, γ = 1, β
    = 0), where the activations are so small that ε = 1e-5 and 1e-3 differ a lot.
    """
    rng = np.random.default_rng(seed)

    def normal(*shape, scale):
        return (rng.normal(size=shape) * scale).astype(np.float32)

    def rows(count, spread):  # each row with spread exactly `spread` about a random mean of its own
        x = rng.normal(size=(count, d))
        x = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True) + rng.normal(size=(count, 1))
        return (x * spread).astype(np.float32)

    def near(value, *shape, scale):  # value + noise, or value itself at initialisation
        return (
            np.full(shape, value, np.float32)
            if init
            else (value + normal(*shape, scale=scale)).astype(np.float32)
        )

    weight = lambda rows, cols: normal(rows, cols, scale=0.02 if init else 1.0 / np.sqrt(rows))  # noqa: E731
    blocks = []
    for _ in range(layers):
        block = {
            "ln1_gamma": near(1.0, d, scale=0.4),
            "ln1_beta": near(0.0, d, scale=0.4),
            "ln2_gamma": near(1.0, d, scale=0.4),
            "ln2_beta": near(0.0, d, scale=0.4),
        }
        for name in "qkvo":
            block["w" + name], block["b" + name] = weight(d, d), near(0.0, d, scale=0.5)
        block["w1"], block["b1"] = weight(d, 4 * d), near(0.0, 4 * d, scale=0.5)
        block["w2"], block["b2"] = weight(4 * d, d), near(0.0, d, scale=0.5)
        blocks.append(block)
    return {
        "token_embedding": normal(v, d, scale=0.02) if init else rows(v, 2.0),
        "position_embedding": normal(T, d, scale=0.02) if init else rows(T, 12.0),
        "blocks": blocks,
        "final_gamma": near(1.0, d, scale=0.4),
        "final_beta": near(0.0, d, scale=0.4),
    }


@exercise(
    "ch05.gpt_forward",
    "gpt_forward(token_ids, params, num_heads)",
    "token_ids (b, t) → logits (b, t, v): x = E[ids] + P[:t], causal blocks, final layer norm, "
    "logits = x·Eᵀ",
    rtol=1e-4,
    atol=1e-4,
)
def gpt_forward_cases():
    ids = np.array([[3, 10, 0, 7, 9], [8, 1, 1, 4, 2]])  # v = 11 and T = 8: some ids are ≥ T
    return [
        Case(
            "one block, one token per sequence (t = 1)",
            (ids[:, :1], _gpt_params(40), 2),
            hint="x = E[token_ids] + P[:t] (token plus position embedding, no √d scaling; "
            "positions count "
            "0 … t−1 whatever the tokens are), then the blocks, then the final layer norm "
            "(final_gamma, "
            "final_beta), then logits = x·Eᵀ — E transposed to (d, v), not reshaped — for every "
            "position: "
            "shape (b, t, v), raw logits, no softmax",
        ),
        Case(
            "one block, five tokens: the blocks are causal",
            (ids, _gpt_params(41), 2),
            hint="a language model must not see the tokens it predicts: call every block with "
            "causal=True "
            "(transformer_block's default is causal=False); P[:t] takes the first t of the T rows",
        ),
        Case(
            "two blocks, four heads, t = T = 8",
            (np.array([[5, 9, 2, 2, 10, 0, 6, 3]]), _gpt_params(42, layers=2), 4),
            hint="apply the blocks in order, each to the output of the one before (x = "
            "block(x)), with "
            "num_heads for every block",
        ),
        Case(
            "a fresh model's scales (weights 0.02): ε = 1e-5",
            (ids, _gpt_params(43, layers=2, init=True), 2),
            hint="every layer norm, the final one included, uses ε = 1e-5 (not Keras's "
            "default 1e-3): at "
            "initialisation the activations' variance is about 1e-3, so ε matters",
        ),
    ]
