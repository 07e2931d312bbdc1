"""Chapter 5 hidden grading cases: randomised inputs and edge cases (instructor only)."""

import numpy as np

from course.registry import Case, hidden


@hidden("ch05.lm_inputs_and_targets")
def _lm_inputs_and_targets(rng):
    return [
        Case("random windows", (rng.integers(0, 65, size=(6, 17)),)),
        Case("one window of two tokens", (rng.integers(0, 5, size=(1, 2)),)),
        Case("int32 ids", (rng.integers(0, 1000, size=(3, 9)).astype(np.int32),)),
    ]


def _distinct_logits(rng, shape, scale=2.0):
    """Random logits with no ties (ties make the nucleus ambiguous)."""
    logits = rng.normal(0, scale, size=shape)
    logits += np.arange(shape[-1]) * 1e-3  # break accidental ties
    return logits.astype(np.float32)


@hidden("ch05.top_k_logits")
def _top_k(rng):
    logits = _distinct_logits(rng, (4, 10))
    return [
        Case("random k=3", (logits, 3)),
        Case("random k=1", (logits, 1)),
        Case("random k=v", (logits, 10)),
        Case("large batch", (_distinct_logits(rng, (16, 50), 5.0), 7)),
    ]


@hidden("ch05.top_p_logits")
def _top_p(rng):
    return [
        Case("random p=0.5", (_distinct_logits(rng, (4, 12)), 0.5)),
        Case("random p=0.9", (_distinct_logits(rng, (4, 12)), 0.9)),
        Case("peaked rows", (_distinct_logits(rng, (3, 20), 6.0), 0.8)),
        Case("p=1", (_distinct_logits(rng, (2, 6)), 1.0)),
    ]


def _huge(rng, v):
    logits = rng.normal(0, 500, size=(2, 3, v)).astype(np.float32)
    y = logits.argmax(axis=-1)
    y[0, 0] = (
        y[0, 0] + 1
    ) % v  # one confident mistake: a cross-entropy of hundreds, still finite in float64
    logits[0, 0] /= 100
    return (y, logits)


@hidden("ch05.perplexity")
def _perplexity(rng):
    v = 11
    return [
        Case(
            "random (4, 7, 11)",
            (rng.integers(0, v, size=(4, 7)), rng.normal(0, 3, size=(4, 7, v)).astype(np.float32)),
        ),
        Case(
            "flat (n, v)",
            (rng.integers(0, v, size=(9,)), rng.normal(0, 1, size=(9, v)).astype(np.float32)),
        ),
        Case("huge logits, mostly right", _huge(rng, v)),
    ]


def _gpt_params(rng, v, T, d, layers, dtype=np.float32, scale=1.0):
    """Random weights of a mini GPT (the names of ch05.gpt_forward); ``scale`` 0.02 is GPT-2's
    initialisation."""

    def normal(*shape, spread):
        return (rng.normal(size=shape) * spread).astype(dtype)

    blocks = []
    for _ in range(layers):
        block = {}
        for name in ("ln1", "ln2"):
            block[name + "_gamma"] = (1 + normal(d, spread=0.3)).astype(dtype)
            block[name + "_beta"] = normal(d, spread=0.3)
        for name in "qkvo":
            block["w" + name], block["b" + name] = (
                normal(d, d, spread=scale / np.sqrt(d)),
                normal(d, spread=0.2),
            )
        block["w1"], block["b1"] = (
            normal(d, 4 * d, spread=scale / np.sqrt(d)),
            normal(4 * d, spread=0.2),
        )
        block["w2"], block["b2"] = (
            normal(4 * d, d, spread=scale / np.sqrt(4 * d)),
            normal(d, spread=0.2),
        )
        blocks.append(block)
    return {
        "token_embedding": normal(v, d, spread=scale),
        "position_embedding": normal(T, d, spread=scale),
        "blocks": blocks,
        "final_gamma": (1 + normal(d, spread=0.3)).astype(dtype),
        "final_beta": normal(d, spread=0.3),
    }


@hidden("ch05.gpt_forward")
def _gpt_forward(rng):
    v, T = int(rng.integers(12, 40)), int(rng.integers(8, 17))
    t = int(rng.integers(2, T))
    return [
        Case(
            "random model, two blocks, two heads",
            (rng.integers(0, v, size=(3, t)), _gpt_params(rng, v, T, 16, 2), 2),
        ),
        Case(
            "three blocks, eight heads",
            (rng.integers(0, v, size=(2, t)), _gpt_params(rng, v, T, 16, 3), 8),
        ),
        Case(
            "the whole context, t = T",
            (rng.integers(0, v, size=(2, T)), _gpt_params(rng, v, T, 12, 1), 3),
        ),
        Case("one token", (rng.integers(0, v, size=(4, 1)), _gpt_params(rng, v, T, 8, 2), 4)),
        Case(
            "no blocks: embeddings, final norm, head",
            (rng.integers(0, v, size=(2, t)), _gpt_params(rng, v, T, 8, 0), 2),
        ),
        Case(
            "float64 weights, int32 ids",
            (
                rng.integers(0, v, size=(2, t)).astype(np.int32),
                _gpt_params(rng, v, T, 8, 2, np.float64),
                2,
            ),
        ),
        Case(
            "GPT-2's initial scales",
            (rng.integers(0, v, size=(2, t)), _gpt_params(rng, v, T, 16, 2, scale=0.02), 4),
        ),
        Case(
            "the first and the last token ids",
            (np.array([[0, v - 1, 0], [v - 1, v - 1, 0]]), _gpt_params(rng, v, T, 8, 1), 1),
        ),
    ]
