"""Chapter 7 hidden grading cases: randomised inputs and edge cases (instructor only)."""

import numpy as np

from course.registry import Case, hidden


@hidden("ch07.distillation_loss")
def _distillation_loss(rng):
    def logits(*shape, scale=3.0):
        return rng.normal(0, scale, shape).astype(np.float32)

    return [
        Case("random (4, 7, 28), T = 2", (logits(4, 7, 28), logits(4, 7, 28), 2.0)),
        Case("random (5, 11), T = 1", (logits(5, 11), logits(5, 11), 1.0)),
        Case("high temperature T = 8", (logits(3, 9, scale=10.0), logits(3, 9, scale=10.0), 8.0)),
        Case("low temperature T = 0.5", (logits(2, 6), logits(2, 6), 0.5)),
        Case("a single distribution (v,)", (logits(13), logits(13), 3.0)),
        Case(
            "float64, confident teacher",
            (rng.normal(0, 50, (3, 4, 6)), rng.normal(0, 1, (3, 4, 6)), 1.5),
        ),
    ]


@hidden("ch07.quantize_int8")
def _quantize_int8(rng):
    w = rng.normal(0, 0.02, (96, 288)).astype(np.float32)
    w[:, 5] = 0.0
    skewed = rng.standard_t(2, (40, 17)).astype(np.float32)
    return [
        Case("a Dense kernel (96, 288) with a zero column", (w,)),
        Case("heavy-tailed weights", (skewed,)),
        Case("one row", (rng.normal(0, 1, (1, 9)).astype(np.float32),)),
        Case("exact halves", ((rng.integers(-254, 255, (8, 3)) / 2).astype(np.float32),)),
        Case("float64 input", (rng.normal(0, 3, (5, 6)),)),
    ]


@hidden("ch07.magnitude_prune")
def _magnitude_prune(rng):
    w = rng.normal(0, 1, (32, 48)).astype(np.float32)
    tied = rng.integers(-3, 4, (10, 10)).astype(np.float32)
    return [
        Case("a matrix at 90 %", (w, 0.9)),
        Case("a matrix at 25 %", (w, 0.25)),
        Case("many ties at 37 %", (tied, 0.37)),
        Case("a 3-D array", (rng.normal(0, 1, (3, 4, 5)).astype(np.float32), 0.6)),
        Case("float64 vector", (rng.normal(0, 1, 50), 0.5)),
        Case("sparsity 0", (w, 0.0)),
    ]
