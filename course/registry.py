"""The exercise registry: ids, public cases, hidden cases, and the reference lookup.

Each chapter declares its exercises in ``course/cases/chNN.py`` with the
:func:`exercise` decorator (public cases, shipped to learners) and, for
grading, in ``course/hidden/chNN.py`` with :func:`hidden` (instructor only, not
part of the student edition). Reference answers live in ``solutions.chNN``
under the exercise's function name; this module never imports ``solutions``
at import time, so it works in a student edition that has none.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    """One input to an exercise: ``candidate(*args, **kwargs)``.

    ``name`` says in the learner's words what the case probes; ``hint`` is
    shown when the case fails and points at the usual mistake.
    """

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    hint: str = ""


@dataclass
class Exercise:
    id: str
    signature: str
    summary: str
    public_cases: Callable[[], list]
    rtol: float = 1e-5
    atol: float = 1e-6

    @property
    def chapter(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def function_name(self) -> str:
        return self.id.split(".", 1)[1]

    @property
    def parameter_names(self) -> list:
        inside = self.signature[self.signature.index("(") + 1 : self.signature.rindex(")")]
        return [p.split("=")[0].strip() for p in inside.split(",") if p.strip()]


class ReferenceUnavailable(RuntimeError):
    """Raised where the reference solutions are not installed (the student edition)."""


_EXERCISES: dict = {}
_HIDDEN: dict = {}
_loaded = False


def exercise(
    exercise_id: str, signature: str, summary: str, rtol: float = 1e-5, atol: float = 1e-6
):
    """Register the decorated function as the public-case factory of ``exercise_id``."""

    def register(cases_factory):
        if exercise_id in _EXERCISES:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        _EXERCISES[exercise_id] = Exercise(
            exercise_id, signature, summary, cases_factory, rtol, atol
        )
        return cases_factory

    return register


def hidden(exercise_id: str):
    """Register the decorated ``factory(rng) -> list[Case]`` as hidden grading cases."""

    def register(factory):
        _HIDDEN[exercise_id] = factory
        return factory

    return register


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    import course.cases as package

    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        importlib.import_module(f"{package.__name__}.{module}")
    _loaded = True


def exercises() -> list:
    """All exercise ids in chapter order (then in the order the chapter declares them)."""
    _load_all()
    return sorted(_EXERCISES, key=lambda i: (i.split(".")[0], list(_EXERCISES).index(i)))


def get_exercise(exercise_id: str) -> Exercise:
    _load_all()
    if not isinstance(exercise_id, str) or exercise_id not in _EXERCISES:
        known = ", ".join(exercises())
        raise KeyError(f"unknown exercise id {exercise_id!r}; known ids: {known}")
    return _EXERCISES[exercise_id]


def public_cases(exercise_id: str) -> list:
    return list(get_exercise(exercise_id).public_cases())


def hidden_cases(exercise_id: str, seed: int = 0) -> list:
    """Hidden grading cases (randomised with ``seed``); raises where they are not installed."""
    ex = get_exercise(exercise_id)
    try:
        importlib.import_module(f"course.hidden.{ex.chapter}")
    except ModuleNotFoundError as error:
        raise ReferenceUnavailable(
            "hidden grading cases are instructor-only and not part of this edition"
        ) from error
    factory = _HIDDEN.get(exercise_id)
    return list(factory(np.random.default_rng(seed))) if factory else []


def reference(exercise_id: str):
    """The reference implementation of ``exercise_id`` from ``solutions`` (instructor builds)."""
    ex = get_exercise(exercise_id)
    try:
        module = importlib.import_module(f"solutions.{ex.chapter}")
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] == "solutions":
            raise ReferenceUnavailable(
                f"course.reference({exercise_id!r}) needs the reference solutions, "
                "which are not part of the student edition"
            ) from error
        raise
    return getattr(module, ex.function_name)
