"""`check`: run an exercise's public cases against a learner's function.

The pieces are split so the grader can run the learner's function in a
sandboxed process (:func:`course.calling.call_case`, which :func:`call_candidate`
wraps here) and judge the outputs in its own process (:func:`judge`), where the
learner's code cannot reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course import serialize
from course.calling import call_case
from course.registry import (
    Case,
    Exercise,
    ReferenceUnavailable,
    get_exercise,
    public_cases,
    reference,
)

FROZEN_DIR = Path(__file__).with_name("frozen")

PASS, FAIL, NOT_ATTEMPTED = "✅", "❌", "⏳"


@dataclass
class CaseOutcome:
    case: str
    passed: bool
    message: str = ""
    not_attempted: bool = False
    hint: str = ""


@dataclass
class CheckResult:
    """What `check` found: ``passed``, ``score`` out of ``max_score`` and a ``message``."""

    exercise_id: str
    passed: bool
    score: float
    max_score: float
    message: str
    cases: list = field(default_factory=list)
    attempted: bool = True
    _shown: bool = field(default=False, repr=False)

    def __str__(self) -> str:
        return self.message

    def _ipython_display_(self):
        # `check` already printed the verdict; show it again only when asked later.
        if self._shown:
            self._shown = False
            return
        print(self.message)


# --------------------------------------------------------------------------- formatting


def describe_value(value, limit: int = 8) -> str:
    """Short, learner-readable rendering of an input or output."""
    if isinstance(value, (tuple, list)):
        inner = ", ".join(describe_value(v, limit) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, np.generic):
        value = value.item()  # np.float64(0.5) reads as 0.5
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - any object a learner returns
        return f"<{type(value).__name__}>"
    if array.dtype == object:
        return f"<{type(value).__name__}>"
    if array.ndim == 0:
        return np.array2string(array, precision=4)
    if array.size <= limit:
        text = np.array2string(array, precision=4, separator=", ", max_line_width=10_000)
        return " ".join(text.split())
    return f"{array.dtype} array of shape {array.shape}"


def describe_call(exercise: Exercise, case: Case) -> str:
    names = exercise.parameter_names
    parts = [
        f"{names[i] if i < len(names) else '?'}={describe_value(a)}"
        for i, a in enumerate(case.args)
    ]
    parts += [f"{k}={describe_value(v)}" for k, v in case.kwargs.items()]
    return f"{exercise.function_name}({', '.join(parts)})"


# --------------------------------------------------------------------------- comparing


def compare(expected, got, rtol: float, atol: float, where: str = "the result") -> str | None:
    """None when ``got`` matches ``expected``; otherwise what differs, in words."""
    if isinstance(expected, str):  # text (chapter 8's decoder): equal character for character
        if not isinstance(got, str):
            return f"{where} should be a str, got {describe_value(got)} ({type(got).__name__})"
        if got == expected:
            return None
        at = next(
            (i for i, (e, g) in enumerate(zip(expected, got)) if e != g),
            min(len(expected), len(got)),
        )
        return f"{where}: expected {expected!r}, got {got!r} (they differ from character {at})"
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{where} should be a tuple of {len(expected)} values, got {type(got).__name__}"
        if len(got) != len(expected):
            return f"{where} should have {len(expected)} values, got {len(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            problem = compare(
                e, g, rtol, atol, f"{where}[{i}]" if where != "the result" else f"value {i}"
            )
            if problem:
                return problem
        return None

    try:
        got_array = np.asarray(got)
    except Exception as error:  # noqa: BLE001
        return f"{where} could not be turned into an array ({type(error).__name__}: {error})"
    expected_array = np.asarray(expected)
    if got_array.dtype == object or not (
        np.issubdtype(got_array.dtype, np.number) or got_array.dtype == bool
    ):
        return f"{where} should be numeric, got {describe_value(got)} ({type(got).__name__})"
    if got_array.shape != expected_array.shape:
        if got_array.size == expected_array.size == 1:
            got_array = got_array.reshape(expected_array.shape)
        else:
            return f"{where} has shape {got_array.shape}, expected shape {expected_array.shape}"

    if expected_array.dtype == bool:
        if got_array.dtype != bool and not np.isin(got_array, (0, 1)).all():
            return (
                f"{where} should be True/False, got values like "
                f"{describe_value(got_array.ravel()[:4])}"
            )
        same = got_array.astype(bool) == expected_array
    elif np.issubdtype(expected_array.dtype, np.integer):
        same = got_array == expected_array
    else:
        got_float = got_array.astype(np.float64)
        expected_float = expected_array.astype(np.float64)
        bad = ~np.isfinite(got_float) & np.isfinite(expected_float)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            return (
                f"{where} contains {got_float[index]} at index {index} where "
                f"{expected_float[index]:.6g} "
                "was expected (overflow or 0/0?)"
            )
        same = np.isclose(got_float, expected_float, rtol=rtol, atol=atol, equal_nan=True)
    if np.all(same):
        return None
    wrong = np.argwhere(~np.asarray(same))
    index = tuple(int(i) for i in wrong[0]) if expected_array.ndim else ()
    e, g = expected_array[index], got_array[index]
    count = (
        f"{len(wrong)} of {expected_array.size} values differ; " if expected_array.size > 1 else ""
    )
    at = f" at index {index}" if index else ""
    return f"{where}: {count}expected {describe_value(e)}, got {describe_value(g)}{at}"


# --------------------------------------------------------------------------- running


def call_candidate(candidate, case: Case):
    """Call ``candidate`` on a copy of the case's inputs: ("ok", output) | ("not_attempted", msg) |
    ("error", msg).

    The grader's learner process calls through the same :func:`course.calling.call_case`.
    """
    status, output, _ = call_case(candidate, case.args, case.kwargs)
    return status, output


def expected_outputs(exercise_id: str, cases: list, hidden: bool = False) -> list:
    """Reference outputs for ``cases``: from ``solutions`` if installed, else frozen at release
    time."""
    try:
        ref = reference(exercise_id)
    except ReferenceUnavailable:
        if hidden:
            raise
        frozen = FROZEN_DIR / f"{exercise_id}.npz"
        if not frozen.exists():
            raise ReferenceUnavailable(
                f"no reference and no frozen expected values for {exercise_id}"
            )
        values = serialize.load(frozen)
        if len(values) != len(cases):
            raise ReferenceUnavailable(f"frozen expected values for {exercise_id} are out of date")
        return list(values)
    outputs = []
    for case in cases:
        status, output = call_candidate(ref, case)
        if status != "ok":
            raise RuntimeError(
                f"the reference for {exercise_id} failed on case {case.name!r}: {output}"
            )
        outputs.append(output)
    return outputs


def judge(exercise: Exercise, case: Case, expected, status: str, output) -> CaseOutcome:
    """Turn one call's result into a pass or a failure message (runs outside the learner's
    process)."""
    if status == "not_attempted":
        return CaseOutcome(case.name, False, str(output), not_attempted=True)
    call = describe_call(exercise, case)
    if status == "error":
        return CaseOutcome(case.name, False, f"{call} {output}", hint=case.hint)
    problem = compare(expected, output, exercise.rtol, exercise.atol)
    if problem is None:
        return CaseOutcome(case.name, True)
    return CaseOutcome(case.name, False, f"{call}: {problem}", hint=case.hint)


def summarize(exercise: Exercise, outcomes: list) -> CheckResult:
    score = float(sum(o.passed for o in outcomes))
    total = float(len(outcomes))
    if outcomes and all(o.not_attempted for o in outcomes):
        message = (
            f"{NOT_ATTEMPTED} {exercise.id}: not attempted yet (the function still "
            "raises NotImplementedError)"
        )
        return CheckResult(exercise.id, False, 0.0, total, message, outcomes, attempted=False)
    if score == total:
        message = f"{PASS} {exercise.id}: all {int(total)} cases pass"
        return CheckResult(exercise.id, True, score, total, message, outcomes)
    first = next(o for o in outcomes if not o.passed)
    message = (
        f"{FAIL} {exercise.id}: {int(score)}/{int(total)} cases pass; first failure "
        f"({first.case}): {first.message}"
    )
    if first.hint:
        message += f"\n   hint: {first.hint}"
    return CheckResult(exercise.id, False, score, total, message, outcomes)


def run_cases(exercise_id: str, candidate, cases: list, expected: list) -> CheckResult:
    exercise = get_exercise(exercise_id)
    outcomes = [
        judge(exercise, case, exp, *call_candidate(candidate, case))
        for case, exp in zip(cases, expected)
    ]
    return summarize(exercise, outcomes)


def check(exercise_id: str, candidate) -> CheckResult:
    """Run the public cases of ``exercise_id`` against ``candidate`` and report.

    Never raises because the candidate is wrong: a wrong answer, an exception,
    a wrong type or shape is a failed case with a message. Raises ``KeyError``
    for an unknown id.
    """
    exercise = get_exercise(exercise_id)
    cases = public_cases(exercise_id)
    if not callable(candidate):
        outcomes = [
            CaseOutcome(c.name, False, f"expected a function, got {type(candidate).__name__}")
            for c in cases
        ]
        result = summarize(exercise, outcomes)
    else:
        result = run_cases(exercise_id, candidate, cases, expected_outputs(exercise_id, cases))
    if _in_notebook():
        print(result.message)
        result._shown = True
    return result


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")
