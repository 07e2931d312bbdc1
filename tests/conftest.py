"""Test-wide set-up: quiet, deterministic TensorFlow; the student edition, built once; each chapter
notebook, executed once (tests/notebooks.py says what that one run proves).

The environment variables are set by the repository's conftest.py, before any kernel starts or
TensorFlow is imported, so that notebook kernels and subprocesses inherit them. TensorFlow writes
oneDNN and CUDA notices to stderr that change from machine to machine, so stderr is never compared;
stdout and results are.
"""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course.environment import (
    quiet_environment,  # the environment itself: the repository's conftest.py
)

sys.path.insert(0, str(Path(__file__).parent))

from notebooks import ROOT  # noqa: E402 - tests/ is on sys.path from here on

# tests/data holds learners' submissions, hostile ones included (they try to kill the grader's
# process group and delete repository files): `pytest --nbval` must never execute them as notebooks.
collect_ignore_glob = ["data/*"]


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on ``path`` (pytest-xdist workers wait for each other here)."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks: each worker builds its own (see `edition`)
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def edition(tmp_path_factory):
    """The student edition, written by `python -m course.release` once per test run: pytest-xdist
    workers share it (the first to need it builds it, under a lock). Tests only read it."""
    from course.release import MARKER

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        try:
            import fcntl  # noqa: F401 - sharing needs the lock

            shared = shared.parent  # the run's folder, common to its workers
        except ImportError:
            pass
    out = shared / "student edition"
    with _locked(shared / ".student-edition.lock"):
        if not (out / MARKER).exists():
            start = time.monotonic()
            result = subprocess.run(
                [sys.executable, "-m", "course.release", str(out)],
                cwd=ROOT,
                text=True,
                env=quiet_environment(MPLBACKEND="Agg"),
                capture_output=True,
                timeout=600,
            )
            assert result.returncode == 0, result.stderr[-3000:]
            # measured 13 s under load (ch04's reference imports TensorFlow)
            assert time.monotonic() - start < 300
    return out


@pytest.fixture(scope="module")
def solved(request, edition, tmp_path_factory):
    """The module's chapter (``CHAPTER``), executed once inside the edition with every exercise
    answered;
    ``VARIABLES`` are read from the kernel afterwards (tests/notebooks.py: ``run_in_edition``)."""
    from notebooks import run_in_edition

    chapter, variables = request.module.CHAPTER, tuple(getattr(request.module, "VARIABLES", ()))
    return run_in_edition(edition, chapter, variables, tmp_path_factory.mktemp(f"{chapter}-run"))


@pytest.fixture(scope="module")
def r(solved):
    """The values the chapter printed, by variable name (JSON: dict keys are strings)."""
    return solved.values


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "solved" in fixtures:  # executes a notebook: never in `make test-fast`
            item.add_marker("notebook")
            item.add_marker("slow")
        elif "edition" in fixtures:  # starts `python -m course.release`
            item.add_marker("slow")
    # Longest first, so that two workers finish together (`make test`: -n 2 --dist loadscope
    # --no-loadscope-reorder hands out whole modules in this order): the chapter runs, later
    # (longer) chapters first, then the modules with slow tests, then the rest. Stable: a module
    # keeps its order.
    slow = {getattr(i, "module", None) for i in items if i.get_closest_marker("slow")}

    def weight(item):
        module = getattr(item, "module", None)
        if hasattr(module, "CHAPTER"):
            return 0, -int(str(module.CHAPTER).removeprefix("ch") or 0)
        return (1 if module in slow else 2), 0

    items.sort(key=weight)
