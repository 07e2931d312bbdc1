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
    y[0, 0] = (y[0, 0] + 1) % v  # one confident mistake: a cross-entropy of hundreds, still finite in float64
    logits[0, 0] /= 100
    return (y, logits)


@hidden("ch05.perplexity")
def _perplexity(rng):
    v = 11
    return [
        Case("random (4, 7, 11)",
             (rng.integers(0, v, size=(4, 7)), rng.normal(0, 3, size=(4, 7, v)).astype(np.float32))),
        Case("flat (n, v)", (rng.integers(0, v, size=(9,)), rng.normal(0, 1, size=(9, v)).astype(np.float32))),
        Case("huge logits, mostly right", _huge(rng, v)),
    ]
