"""Timing that a busy machine cannot fool: warm-up excluded, variants interleaved, medians with
their spread.

One timing of one run says little: the first call traces and compiles, the operating system
and other programs steal the CPU at random moments, and a machine that speeds up or slows
down during a measurement favours whichever variant ran at the good moment. So every speed
the course prints comes from :func:`time_variants` — the standard library's ``timeit`` does
the clock work — and every speed claim from :func:`compare`.
"""

from __future__ import annotations

import timeit
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one variant: one number per round (each the mean of ``number`` calls)."""

    name: str
    seconds: tuple
    number: int

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))

    @property
    def spread(self) -> tuple:
        """The range of the rounds (fastest, slowest), in seconds per call."""
        return float(np.min(self.seconds)), float(np.max(self.seconds))

    def __str__(self) -> str:
        low, high = self.spread
        return (
            f"{self.name}: {1e3 * self.median:.3g} ms per call (range "
            f"{1e3 * low:.3g}–{1e3 * high:.3g}, "
            f"{len(self.seconds)} rounds × {self.number})"
        )


def time_variants(
    variants: dict, repeats: int = 7, warmup: int = 1, number: int | None = None
) -> dict:
    """Time every callable of ``variants`` ({name: function()}) fairly; returns {name: Timing}.

    1. Warm-up: each variant is called ``warmup`` times untimed (tracing, compiling, caches).
    2. ``number`` calls per round: by default ``timeit.Timer.autorange`` picks, per variant, the
       smallest of 1, 2, 5, 10, 20, … calls that takes at least 0.2 s (so a fast call is not
       lost in the clock's resolution).
    3. ``repeats`` rounds, interleaved: every round times each variant once, in an order rotated
       by one each round, so a slow spell of the machine hits every variant alike. Each result
       is the median of its rounds, with their range as the spread.
    """
    if not variants or not all(callable(f) for f in variants.values()):
        raise ValueError("variants must be a non-empty {name: function} dict of callables")
    if int(repeats) < 3:
        raise ValueError(f"repeats must be at least 3 to give a spread, got {repeats}")
    timers = {name: timeit.Timer(function) for name, function in variants.items()}
    for timer in timers.values():
        if warmup:
            timer.timeit(int(warmup))
    numbers = {
        name: int(number) if number else timer.autorange()[0] for name, timer in timers.items()
    }
    names = list(timers)
    rounds = {name: [] for name in names}
    for r in range(int(repeats)):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            rounds[name].append(timers[name].timeit(numbers[name]) / numbers[name])
    return {name: Timing(name, tuple(rounds[name]), numbers[name]) for name in names}


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b``: the median of the per-round ratios of their times, their range, and the
    verdict."""

    a: str
    b: str
    ratio: float
    spread: tuple
    verdict: str

    def __str__(self) -> str:
        return (
            f"{self.a} / {self.b} time: {self.ratio:.2f}x (range "
            f"{self.spread[0]:.2f}–{self.spread[1]:.2f}): "
            f"{self.verdict}"
        )


def compare(a: Timing, b: Timing, negligible: float = 0.05) -> Comparison:
    """Is ``a`` faster than ``b``, slower, or the same within the spread?

    Rounds are interleaved, so round r of ``a`` and round r of ``b`` ran under the same load:
    the ratio a_r / b_r of each round cancels most of it. A difference is called only when
    every round's ratio lies on the same side of 1 (with 5 rounds, a coin would do that once
    in 16 tries) and the median ratio is more than ``negligible`` (5 %) away from 1; otherwise
    the two are "the same within the spread" — which is what two variants running the same
    computation should come out as.
    """
    if len(a.seconds) != len(b.seconds):
        raise ValueError(
            f"{a.name} and {b.name} must come from the same time_variants call (same rounds)"
        )
    ratios = np.asarray(a.seconds) / np.asarray(b.seconds)
    low, high = float(ratios.min()), float(ratios.max())
    if abs(float(np.median(ratios)) - 1) <= negligible:
        verdict = "the same within the spread"
    elif high < 1:
        verdict = f"{a.name} is faster ({1 / float(np.median(ratios)):.2f}x the speed)"
    elif low > 1:
        verdict = f"{a.name} is slower ({1 / float(np.median(ratios)):.2f}x the speed)"
    else:
        verdict = "the same within the spread"
    return Comparison(a.name, b.name, float(np.median(ratios)), (low, high), verdict)
