"""Write the student edition of the course.

    python -m course.release OUT_DIR

The edition is what a teacher hands out: a copy of the course with the
instructor's parts dropped. It keeps the chapter notebooks (exercise cells blank,
outputs cleared), the teaching library ``tinyllm/`` as it is, the data, and the
``course`` package with the public cases and the expected values frozen from the
reference now (so ``check`` works offline), plus a README, Makefile and pyproject
of its own. It drops ``solutions/`` (the answers), the hidden cases, the grader,
this module and the tests. Nothing is rewritten: the library and the notebooks
never import ``solutions`` (the leak check below refuses an edition that does).

Before the edition is moved into place it is checked for leaks (a ``solutions``
or hidden-case module, an import of ``solutions``, a solved exercise cell, three
lines in a row of a reference answer or of a hidden case, and a library function
that computes an exercise's answer, found by running it on the public cases);
``OUT_DIR`` is only replaced when it is empty or an earlier student edition.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

from course.notebooks import chapter_notebooks, exercise_ids

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = "tinyllm"
MARKER = ".student-edition"
# Instructor-only parts of `course`: hidden cases, the grader and this module.
COURSE_EXCLUDED = ("hidden", "grade.py", "release.py", "sandbox.py", "sandbox_child.py", "frozen")
COPIED_FILES = ("requirements.txt", "environment.yml", "LICENSE", "LICENSE.md", "LICENSE.txt")


_IMPORTS_SOLUTIONS = re.compile(r"^\s*(from|import)\s+solutions\b", re.M)


class ReleaseError(RuntimeError):
    """The edition cannot be written as asked; the message says what to change."""


# ----------------------------------------------------------------------- the parts of the edition


def copied_package(out: Path, name: str, excluded: tuple = ()) -> list:
    """``name/`` copied to ``out/name/`` as it is, without ``excluded`` top-level entries and
    caches."""
    written = []
    for path in sorted((ROOT / name).rglob("*")):
        relative = path.relative_to(ROOT / name)
        if (
            not path.is_file()
            or "__pycache__" in relative.parts
            or path.suffix == ".pyc"
            or relative.parts[0] in excluded
        ):
            continue
        target = out / name / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(target)
    return written


def frozen_values(out: Path) -> int:
    """``course/frozen/<id>.npz``: the reference's outputs on every public case, for ``check``
    offline."""
    from course import serialize
    from course.checking import expected_outputs
    from course.registry import ReferenceUnavailable, exercises, public_cases

    folder = out / "course" / "frozen"
    folder.mkdir(parents=True, exist_ok=True)
    for exercise_id in exercises():
        try:
            values = expected_outputs(exercise_id, public_cases(exercise_id))
        except ReferenceUnavailable as error:
            raise ReleaseError(
                f"the release is built from the instructor's repository: {error}"
            ) from None
        serialize.save(folder / f"{exercise_id}.npz", list(values))
    return len(exercises())


def edition_notebooks(out: Path) -> list:
    """The chapter notebooks: outputs cleared, every exercise cell checked to be blank."""
    import nbformat

    folder = out / "chapters"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    source_folder = ROOT / "chapters"
    for path in chapter_notebooks(source_folder):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            exercise = next(iter(exercise_ids(cell.get("metadata", {}).get("tags", []))), None)
            where = f"chapters/{path.name}, cell {index + 1}"
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            if exercise and "NotImplementedError" not in cell.source:
                raise ReleaseError(
                    f"{where} (exercise:{exercise}) is not blank: a student edition must not "
                    "ship an answer (commit the notebook with the blank exercise)"
                )
        target = folder / path.name
        nbformat.write(nb, target)
        written.append(target)
    for path in sorted(source_folder.rglob("*")):  # figures and other files the notebooks show
        relative = path.relative_to(source_folder)
        if (
            path.is_file()
            and path.suffix not in (".ipynb", ".py", ".pyc")
            and not any(p.startswith(".") or p == "__pycache__" for p in relative.parts)
        ):
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / relative)
    return written


def data_files(out: Path) -> None:
    source = ROOT / "data"
    if source.is_dir():
        shutil.copytree(
            source, out / "data", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
        )


def _version() -> str:
    match = re.search(
        r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M
    )
    return match.group(1) if match else "0.0.0"


def project_files(out: Path, notebooks: list) -> None:
    from course.registry import exercises

    for name in COPIED_FILES:
        if (ROOT / name).is_file():
            shutil.copyfile(ROOT / name, out / name)
    # course/bench.py compares against the PyTorch reference kept in bench/: ship them together
    shutil.copytree(
        ROOT / "bench", out / "bench", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    )
    (out / "pyproject.toml").write_text(PYPROJECT.format(version=_version()), encoding="utf-8")
    (out / "Makefile").write_text(MAKEFILE, encoding="utf-8")
    (out / ".gitignore").write_text(
        ".venv/\n__pycache__/\n*.egg-info/\n.ipynb_checkpoints/\n*.pyc\n", encoding="utf-8"
    )
    rows = []
    for path in notebooks:
        chapter = "ch" + path.name[:2]
        ids = [f"`{e}`" for e in exercises() if e.split(".")[0] == chapter]
        rows.append(
            f"| {int(path.name[:2])} | [`{path.stem}`](chapters/{path.name}) | "
            f"{', '.join(ids) or '—'} |"
        )
    (out / "README.md").write_text(README.format(chapters="\n".join(rows)), encoding="utf-8")
    (out / MARKER).write_text(
        json.dumps(
            {"edition": "student", "version": _version(), "exercises": exercises()}, indent=1
        )
        + "\n",
        encoding="utf-8",
    )


# --------------------------------------------------------------------------- checking for leaks


def _normalized_lines(text: str) -> list:
    return [
        " ".join(line.split())
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _windows(lines: list, size: int = 3, least: int = 40) -> set:
    """The runs of ``size`` lines of ``lines``, joined by newlines, that hold at least ``least``
    characters: three lines of closing brackets and a ``return {`` stand in any two Python files
    formatted at 100 columns, and say nothing of where they came from. A text too short for any
    such run keeps all of its runs."""
    if len(lines) < size:
        return {"\n".join(lines)} if lines else set()
    windows = {"\n".join(lines[i : i + size]) for i in range(len(lines) - size + 1)}
    return {w for w in windows if len(w) >= least} or windows


def _body_lines(function) -> list:
    """The statements of ``function``'s body (no signature, no docstring), one normalised line
    each."""
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source)
    node = tree.body[0]
    body = node.body[1:] if ast.get_docstring(node) else node.body
    lines = source.splitlines()
    first, last = body[0].lineno, body[-1].end_lineno
    return _normalized_lines("\n".join(lines[first - 1 : last]))


def secret_fingerprints() -> dict:
    """``{what: set of 3-line windows}`` of every reference answer and every hidden-case module."""
    from course.registry import exercises, reference

    prints = {}
    for exercise_id in exercises():
        prints[f"the reference answer of {exercise_id}"] = _windows(
            _body_lines(reference(exercise_id))
        )
    for path in sorted((ROOT / "course" / "hidden").glob("ch*.py")):
        prints[f"course/hidden/{path.name}"] = _windows(
            _normalized_lines(path.read_text(encoding="utf-8"))
        )
    return prints


# The child process of :func:`library_answers`: import every module of the library it is given and
# run each public function whose signature accepts an exercise's public cases on them. One that
# returns the expected output on every case computes that exercise's answer, however its code is
# written.
_BEHAVIOUR_SCAN = r"""
import contextlib, importlib, inspect, io, json, signal, sys, warnings
root, exercise_ids = sys.argv[1], json.loads(sys.argv[2])
from course.checking import compare, expected_outputs
from course.calling import call_case
from course.registry import exercises, get_exercise, public_cases
warnings.filterwarnings("ignore")
functions = []
for path in sorted(__import__("pathlib").Path(root, "tinyllm").glob("*.py")):
    if path.stem.startswith("_"):
        continue
    try:
        module = importlib.import_module("tinyllm." + path.stem)
    except Exception:
        continue
    functions += [(f"tinyllm/{path.name}", name, value) for name, value in vars(module).items()
                  if inspect.isfunction(value) and not name.startswith("_")
                  and value.__module__ == module.__name__]
def timeout(signum, frame):
    raise TimeoutError
signal.signal(signal.SIGALRM, timeout)
found = []
for exercise_id in exercise_ids or exercises():
    exercise, cases = get_exercise(exercise_id), public_cases(exercise_id)
    expected = expected_outputs(exercise_id, cases)
    for where, name, function in functions:
        try:
            signature = inspect.signature(function)
            if not all(signature.bind(*case.args, **case.kwargs) for case in cases):
                continue
        except (TypeError, ValueError):
            continue
        same = True
        for case, value in zip(cases, expected):
            signal.alarm(20)
            try:
                with contextlib.redirect_stdout(io.StringIO()), \
                        contextlib.redirect_stderr(io.StringIO()):
                    status, output, _ = call_case(function, case.args, case.kwargs)
            except BaseException:
                status = "error"
            finally:
                signal.alarm(0)
            if status != "ok" or compare(value, output, exercise.rtol, exercise.atol) is not None:
                same = False
                break
        if same:
            found.append(f"{where}: {name}() computes the answer of {exercise_id} "
                         "(it passes every public case)")
print(json.dumps(found))
"""


def library_answers(root: Path, exercise_ids: list | None = None, timeout: float = 900) -> list:
    """Functions of ``root/tinyllm`` that compute an exercise's answer, found by behaviour (empty:
    none).

    Copied lines are not the only way to leak an answer: a library function written differently
    but computing the same thing (``symmetric_quantize(w, 8, 0)`` against ``quantize_int8(w)``)
    hands the learner the answer as surely. So every public function of every module of the
    library whose signature accepts an exercise's public cases is called on them, in a separate
    Python that imports ``root``'s ``tinyllm`` (the edition's own copy) and this repository's
    ``course``; one that returns the reference's output on every case is reported. A function
    that takes the arguments in another order, or needs a wrapper, is not found: the public
    cases are its only probe.
    """
    import subprocess

    from course.environment import quiet_environment

    code = f"import sys; sys.path[:0] = [{str(root)!r}, {str(ROOT)!r}]\n" + _BEHAVIOUR_SCAN
    result = subprocess.run(
        [sys.executable, "-c", code, str(root), json.dumps(exercise_ids or [])],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
        env=quiet_environment(MPLBACKEND="Agg"),
    )
    if result.returncode != 0:
        raise ReleaseError(f"the behaviour check of the library failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def leaks(edition: Path, fingerprints: dict | None = None) -> list:
    """Everything in ``edition`` that a student edition must not contain, as sentences (empty:
    none)."""
    fingerprints = secret_fingerprints() if fingerprints is None else fingerprints
    edition = Path(edition)
    found = []
    for path in sorted(edition.rglob("*")):
        relative = path.relative_to(edition)
        if ".venv" in relative.parts or "__pycache__" in relative.parts:
            continue
        if "solutions" in relative.parts or relative.parts[:2] == ("course", "hidden"):
            found.append(f"{relative}: instructor-only path")
            continue
        if not path.is_file() or path.suffix not in (
            ".py",
            ".ipynb",
            ".md",
            ".txt",
            ".json",
            ".toml",
            ".cfg",
            "",
        ):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix == ".ipynb":
            text = "\n".join(
                "".join(c.get("source", ""))
                if isinstance(c.get("source"), list)
                else c.get("source", "")
                for c in json.loads(text).get("cells", [])
            )
        if "@hidden(" in text:
            found.append(f"{relative}: hidden grading cases")
        if path.suffix in (".py", ".ipynb") and _IMPORTS_SOLUTIONS.search(text):
            found.append(f"{relative}: imports solutions")
        normalized = "\n".join(_normalized_lines(text))
        for what, windows in fingerprints.items():
            if any(w and w in normalized for w in windows):
                found.append(f"{relative}: contains {what}")
    return found


# --------------------------------------------------------------------------- building


def _safe_target(out_dir: Path) -> Path:
    out_dir = Path(out_dir).expanduser().resolve()
    if ROOT.is_relative_to(out_dir):
        raise ReleaseError(f"refusing to write the edition over the repository itself ({out_dir})")
    for part in ("course", "solutions", LIBRARY, "chapters", "tests", "data", "docs", ".git"):
        if out_dir.is_relative_to(ROOT / part):
            raise ReleaseError(
                f"refusing to write the edition inside the repository's {part}/ ({out_dir})"
            )
    if out_dir.exists() and (
        not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER).exists())
    ):
        raise ReleaseError(
            f"{out_dir} exists and is not an earlier student edition: choose an empty or new folder"
        )
    return out_dir


def build(out_dir) -> dict:
    """Write the student edition to ``out_dir``; returns what it holds (counts)."""
    out_dir = _safe_target(Path(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the edition is for handing out
    try:
        library = [p for p in copied_package(staging, LIBRARY) if p.suffix == ".py"]
        copied_package(staging, "course", COURSE_EXCLUDED)
        frozen = frozen_values(staging)
        notebooks = edition_notebooks(staging)
        data_files(staging)
        project_files(staging, notebooks)
        found = leaks(staging) + library_answers(staging)
        if found:
            raise ReleaseError("the edition would leak answers:\n  " + "\n  ".join(found))
        if out_dir.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            out_dir.rename(trash / "old")
            staging.rename(out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return {
        "notebooks": len(notebooks),
        "library_modules": len(library),
        "frozen_exercises": frozen,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course.release",
        description="Write the student edition: chapters with blank exercises, data, the "
        "course package with its "
        "public cases and expected values frozen from the reference, the tinyllm library, a README "
        "— "
        "no reference answers, no hidden cases.",
    )
    parser.add_argument(
        "out_dir",
        metavar="OUT_DIR",
        type=Path,
        help="where to write it (new, empty, or an earlier student edition, which is replaced)",
    )
    arguments = parser.parse_args(argv)
    try:
        counts = build(arguments.out_dir)
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"wrote the student edition to {arguments.out_dir}: {counts['notebooks']} notebook(s), "
        f"{counts['frozen_exercises']} exercises with frozen expected values, "
        f"{counts['library_modules']} module(s) of the {LIBRARY} library"
    )
    return 0


# ---------------------------------------------------------------- the edition's own project files

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "llm-foundations-course-student"
version = "{version}"
description = "LLM foundations, built step by step in Keras and TensorFlow (student edition)"
requires-python = ">=3.10"
readme = "README.md"

[tool.setuptools.packages.find]
include = ["course*", "tinyllm*"]

[tool.setuptools.package-data]
course = ["frozen/*.npz"]
"""

MAKEFILE = """# LLM foundations (student edition) — every target installs what it needs into .venv/
# first.
#   make lab      open the course in JupyterLab (prints the URL to open)
#   make verify   check the set-up: versions, and every exercise's check runs offline
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Jupyter refuses to run as root (containers) unless told.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab verify clean

$(STAMP): requirements.txt pyproject.toml
\ttest -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
\t$(BIN)/python -m pip install --quiet --upgrade pip
\t$(BIN)/python -m pip install --quiet -r requirements.txt
\t$(BIN)/python -m pip install --quiet --no-deps -e .
\ttouch $@

setup: $(STAMP)

# course/lab_settings/overrides.json: no "Jupyter news?" pop-up, no requests to the internet.
lab: setup
\tKERAS_BACKEND=tensorflow $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 \\
\t\t--ServerApp.root_dir=chapters --LabApp.app_settings_dir=course/lab_settings \\
\t\t$(ALLOW_ROOT) $(LAB_ARGS)

verify: setup
\tTF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -c "import course; course.check_environment(); \\
\tresults = [course.check(e, lambda *a, **k: None) for e in course.exercises()]; \\
\tprint(f'{len(results)} exercises ready to check offline')"

clean:
\trm -rf $(VENV)
"""

README = """# LLM foundations, built step by step in Keras and TensorFlow — student edition

One Jupyter notebook per concept, from logistic regression to a GPT you train
yourself. Each exercise is a function for you to write, with instant feedback
that works offline.

## Quick start

On a machine with Python 3.10+ and `make`:

```bash
make lab       # installs everything into .venv/ (first time only), then prints the URL to open
```

Open `chapters/01_…ipynb` and run the cells from the top. Without `make`:

```bash
python3 -m venv .venv && . .venv/bin/activate
pip install -r requirements.txt && pip install -e .
jupyter lab chapters/
```

(`make verify` checks the set-up: the versions, and that every exercise's check runs.)

## Exercises and instant feedback

An exercise is a cell tagged `exercise:<id>` with a function for you to write,
followed by a check cell:

```python
check("ch01.relu", relu)
# ⏳ ch01.relu: not attempted yet (the function still raises NotImplementedError)
# ❌ ch01.relu: 3/4 cases pass; first failure (...): ... expected ..., got ...
# ✅ ch01.relu: all 4 cases pass
```

The expected values ship with this edition (`course/frozen/`), so checking needs
no network and no solutions. You can also check from a terminal:

```bash
python -c "import numpy as np, course; print(course.check('ch01.relu', lambda x: np.maximum(x, 0)))"
```

Later cells never depend on your answer: they use what the chapter builds on
its page (the same code is in `tinyllm/`, the library later chapters import) or
the Keras built-in, so a notebook runs top to bottom whether or not you have done
its exercises.

## Chapters

| chapter | notebook | exercises |
| --- | --- | --- |
{chapters}

## What is where

```
chapters/    the notebooks
tinyllm/     what the chapters build (models, layers, losses, decoders), one module per concept
course/      exercises and check, data loaders, plots
data/        the datasets the chapters train on, and the scripts that made them
```

Your teacher may grade your notebook: keep each exercise in its tagged cell,
keep the function's name, and make it depend only on its arguments (NumPy is
`np`, `math`, `tf` and `keras` are available).

## Troubleshooting

- `python -c "import course; course.check_environment()"` says in one line what
  is wrong with the installed TensorFlow or Keras.
- TensorFlow prints oneDNN/CUDA notices when it starts; they are harmless. Set
  `TF_CPP_MIN_LOG_LEVEL=3` to hide them.
"""


if __name__ == "__main__":
    sys.exit(main())
