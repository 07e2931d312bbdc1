"""Chapter 1 hidden grading cases: randomised inputs and edge cases (instructor only)."""

import numpy as np

from course.registry import Case, hidden


@hidden("ch01.sigmoid")
def _sigmoid(rng):
    return [
        Case("random 3-D", (rng.normal(0, 5, size=(2, 3, 4)).astype(np.float32),)),
        Case("extremes", (np.array([-1e4, -700, -88, 88, 700, 1e4], np.float64),)),
        Case("scalar", (np.float32(rng.normal()),)),
    ]


@hidden("ch01.relu")
def _relu(rng):
    return [
        Case("random 3-D", (rng.normal(0, 3, size=(3, 2, 5)).astype(np.float32),)),
        Case("float64", (rng.normal(size=7),)),
    ]


@hidden("ch01.binary_cross_entropy")
def _bce(rng):
    y = (rng.random((4, 6)) > 0.5).astype(np.float32)
    p = rng.uniform(0.01, 0.99, (4, 6)).astype(np.float32)
    z = rng.normal(0, 4, (4, 6)).astype(np.float32)
    return [
        Case("random probabilities", (y, p)),
        Case("random logits", (y, z), {"from_logits": True}),
        Case(
            "soft labels",
            (rng.random(8).astype(np.float32), rng.uniform(0.05, 0.95, 8).astype(np.float32)),
        ),
        Case(
            "extreme logits",
            (np.array([1, 0, 1, 0], np.float32), np.array([-5e3, 5e3, 30.0, -30.0], np.float32)),
            {"from_logits": True},
        ),
    ]


@hidden("ch01.logistic_regression_gradients")
def _gradients(rng):
    n, d = 12, 4
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (rng.random(n) > 0.5).astype(np.float32)
    return [
        Case("random", (rng.normal(size=d).astype(np.float32), float(rng.normal()), x, y)),
        Case("one sample", (rng.normal(size=d).astype(np.float32), 0.0, x[:1], y[:1])),
    ]
