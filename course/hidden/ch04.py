"""Chapter 4 hidden grading cases: randomised inputs and edge cases (instructor only)."""

import numpy as np

from course.registry import Case, hidden


def _f32(rng, *shape, scale=1.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


def _random_mask(rng, *shape):
    """A random bool mask with at least one True in every row (the last axis)."""
    mask = rng.random(shape) > 0.5
    rows = np.argwhere(~mask.any(axis=-1))
    for index in rows:
        mask[tuple(index) + (rng.integers(shape[-1]),)] = True
    return mask


@hidden("ch04.causal_mask")
def _causal_mask(rng):
    return [Case("n = 2", (2,)), Case("random n", (int(rng.integers(7, 30)),))]


@hidden("ch04.scaled_dot_product_attention")
def _attention(rng):
    b, h, tq, tk, dk, dv = 2, 3, int(rng.integers(2, 6)), int(rng.integers(2, 7)), 4, 3
    return [
        Case(
            "4-D (b, h, tq, dk)",
            (_f32(rng, b, h, tq, dk), _f32(rng, b, h, tk, dk), _f32(rng, b, h, tk, dv)),
        ),
        Case(
            "random mask",
            (
                _f32(rng, b, tq, dk),
                _f32(rng, b, tk, dk),
                _f32(rng, b, tk, dv),
                _random_mask(rng, b, tq, tk),
            ),
        ),
        Case("one query, d_k = 1", (_f32(rng, 1, 1), _f32(rng, tk, 1), _f32(rng, tk, dv))),
        Case(
            "large logits with a mask",
            (
                _f32(rng, 3, 8, scale=40),
                _f32(rng, 5, 8, scale=40),
                _f32(rng, 5, 2),
                _random_mask(rng, 3, 5),
            ),
        ),
        Case(
            "float64",
            (rng.normal(size=(tq, dk)), rng.normal(size=(tk, dk)), rng.normal(size=(tk, dv))),
        ),
    ]


@hidden("ch04.sinusoidal_positional_encoding")
def _sinusoidal(rng):
    return [
        Case("one position", (1, 6)),
        Case("random size", (int(rng.integers(5, 80)), 2 * int(rng.integers(1, 33)))),
    ]


@hidden("ch04.multi_head_self_attention")
def _mha(rng):
    b, t, d = 3, int(rng.integers(2, 7)), 12
    x = _f32(rng, b, t, d)
    w = [_f32(rng, d, d, scale=0.3) for _ in range(4)]
    return [
        Case("four heads", (x, *w, 4)),
        Case("six heads with a random mask", (x, *w, 6, _random_mask(rng, b, t, t))),
        Case("twelve heads of depth 1", (x, *w, 12, np.tril(np.ones((t, t), bool)))),
    ]


def _block_params(rng, d, m, dtype=np.float32):
    """Random weights of one block (the names of ch04.transformer_block), every one of them
    non-trivial."""

    def normal(*shape, scale):
        return (rng.normal(size=shape) * scale).astype(dtype)

    params = {}
    for name in ("ln1", "ln2"):
        params[name + "_gamma"] = (1 + normal(d, scale=0.3)).astype(dtype)
        params[name + "_beta"] = normal(d, scale=0.3)
    for name in "qkvo":
        params["w" + name], params["b" + name] = (
            normal(d, d, scale=1 / np.sqrt(d)),
            normal(d, scale=0.3),
        )
    params["w1"], params["b1"] = normal(d, m, scale=1.5 / np.sqrt(d)), normal(m, scale=0.5)
    params["w2"], params["b2"] = normal(m, d, scale=1 / np.sqrt(m)), normal(d, scale=0.3)
    return params


@hidden("ch04.transformer_block")
def _transformer_block(rng):
    b, t, d = int(rng.integers(2, 4)), int(rng.integers(3, 8)), 12
    return [
        Case(
            "three heads, bidirectional",
            (_f32(rng, b, t, d, scale=2), _block_params(rng, d, 4 * d), 3),
        ),
        Case(
            "six heads, causal",
            (_f32(rng, b, t, d, scale=2), _block_params(rng, d, 4 * d), 6),
            {"causal": True},
        ),
        Case(
            "twelve heads of depth 1, causal",
            (_f32(rng, b, t, d), _block_params(rng, d, 4 * d), 12, True),
        ),
        Case("one token, causal", (_f32(rng, b, 1, d), _block_params(rng, d, 4 * d), 4, True)),
        Case("one token, bidirectional", (_f32(rng, 1, 1, d), _block_params(rng, d, 4 * d), 2)),
        Case(
            "an MLP width that is not 4d", (_f32(rng, b, t, d), _block_params(rng, d, 7), 2, True)
        ),
        Case(
            "float64 inputs and weights",
            (rng.normal(size=(b, t, d)) * 3, _block_params(rng, d, 4 * d, np.float64), 4, True),
        ),
        Case(
            "small activations", (_f32(rng, b, t, d, scale=0.03), _block_params(rng, d, 4 * d), 3)
        ),
        Case(
            "one sequence, d = 4, one head",
            (_f32(rng, 1, t, 4), _block_params(rng, 4, 16), 1, True),
        ),
    ]
