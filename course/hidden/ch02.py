"""Chapter 2 hidden grading cases: randomised inputs and edge cases (instructor only)."""

import numpy as np

from course.registry import Case, hidden


@hidden("ch02.lstm_cell_step")
def _lstm_cell_step(rng):
    def case(name, b, n, u, scale):
        return Case(
            name,
            (
                rng.normal(size=(b, n)).astype(np.float32),
                rng.normal(0, 0.5, (b, u)).astype(np.float32),
                rng.normal(0, 1, (b, u)).astype(np.float32),
                rng.normal(0, scale, (n, 4 * u)).astype(np.float32),
                rng.normal(0, scale, (u, 4 * u)).astype(np.float32),
                rng.normal(0, scale, 4 * u).astype(np.float32),
            ),
        )

    return [
        case("random", 3, 4, 5, 0.4),
        case("one unit, one sample", 1, 2, 1, 1.0),
        case("saturating gates", 2, 3, 4, 8.0),
    ]


@hidden("ch02.shift_right")
def _shift_right(rng):
    return [
        Case("random", (rng.integers(3, 50, size=(4, 7)), 1)),
        Case("start id 0", (rng.integers(1, 9, size=(2, 3)), 0)),
        Case("one row", (rng.integers(3, 9, size=(1, 10)), 2)),
    ]


@hidden("ch02.masked_sequence_cross_entropy")
def _masked_sequence_cross_entropy(rng):
    b, t, v = 3, 5, 7
    mask = (rng.random((b, t)) > 0.3).astype(np.float32)
    mask[:, 0] = 1
    return [
        Case(
            "random",
            (rng.integers(0, v, (b, t)), rng.normal(0, 3, (b, t, v)).astype(np.float32), mask),
        ),
        Case(
            "float64 logits",
            (rng.integers(0, v, (b, t)), rng.normal(0, 1, (b, t, v)), np.ones((b, t))),
        ),
        Case(
            "one token",
            (np.array([[3]]), rng.normal(0, 50, (1, 1, 4)).astype(np.float32), np.ones((1, 1))),
        ),
    ]


def _decoder_params(rng, vocabulary, e, units, dtype=np.float32, scale=0.5):
    normal = lambda *shape, s=scale: (rng.normal(size=shape) * s).astype(dtype)  # noqa: E731
    return {
        "embedding": normal(vocabulary, e, s=1.0),
        "kernel": normal(e, 4 * units),
        "recurrent_kernel": normal(units, 4 * units),
        "bias": normal(4 * units),
        "dense_kernel": normal(units, vocabulary, s=1.0),
        "dense_bias": normal(vocabulary, s=1.0),
    }


@hidden("ch02.decoder_step")
def _decoder_step(rng):
    b, v, e, u = (
        int(rng.integers(2, 6)),
        int(rng.integers(6, 20)),
        int(rng.integers(2, 9)),
        int(rng.integers(2, 9)),
    )

    def state(b, u, dtype=np.float32):
        return rng.normal(0, 0.5, (b, u)).astype(dtype), rng.normal(0, 1.0, (b, u)).astype(dtype)

    return [
        Case("random shapes", (rng.integers(0, v, b), *state(b, u), _decoder_params(rng, v, e, u))),
        Case(
            "float64 states and weights",
            (
                rng.integers(0, v, b),
                *state(b, u, np.float64),
                _decoder_params(rng, v, e, u, np.float64),
            ),
        ),
        Case(
            "one sentence (b = 1)",
            (rng.integers(0, v, 1), *state(1, u), _decoder_params(rng, v, e, u)),
        ),
        Case(
            "a large vocabulary (V = 3000)",
            (
                rng.integers(0, 3000, b),
                *state(b, 16),
                _decoder_params(rng, 3000, 12, 16, scale=0.3),
            ),
        ),
        Case(
            "one unit, saturating gates",
            (rng.integers(0, v, b), *state(b, 1), _decoder_params(rng, v, e, 1, scale=6.0)),
        ),
        Case(
            "the same token in every row",
            (np.full(b, v - 1), *state(b, u), _decoder_params(rng, v, e, u)),
        ),
    ]
