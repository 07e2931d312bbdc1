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
        Case("4-D (b, h, tq, dk)", (_f32(rng, b, h, tq, dk), _f32(rng, b, h, tk, dk), _f32(rng, b, h, tk, dv))),
        Case("random mask", (_f32(rng, b, tq, dk), _f32(rng, b, tk, dk), _f32(rng, b, tk, dv),
                             _random_mask(rng, b, tq, tk))),
        Case("one query, d_k = 1", (_f32(rng, 1, 1), _f32(rng, tk, 1), _f32(rng, tk, dv))),
        Case("large logits with a mask", (_f32(rng, 3, 8, scale=40), _f32(rng, 5, 8, scale=40), _f32(rng, 5, 2),
                                          _random_mask(rng, 3, 5))),
        Case("float64", (rng.normal(size=(tq, dk)), rng.normal(size=(tk, dk)), rng.normal(size=(tk, dv)))),
    ]


@hidden("ch04.sinusoidal_positional_encoding")
def _sinusoidal(rng):
    return [Case("one position", (1, 6)), Case("random size", (int(rng.integers(5, 80)), 2 * int(rng.integers(1, 33))))]


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
