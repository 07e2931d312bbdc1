"""The student edition, `python -m course.release OUT_DIR`: no answers in it, `check` works offline
with the reference missing, and it installs from a fresh copy. The edition is built once per session
(the `edition` fixture, tests/conftest.py); each chapter notebook runs inside it in its chapter's
module (tests/test_chNN_notebook.py), exercises answered.

"Inside it" means a Python that cannot see this repository: ``python -I -S`` with only the
edition and site-packages on ``sys.path`` (``-S`` skips the ``.pth`` of the repository's
editable install), as on a learner's machine.
"""

import json
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest
from notebooks import ROOT, chapter_notebooks

import course
from course.environment import quiet_environment
from course.registry import public_cases, reference
from course.release import LIBRARY, MARKER, ReleaseError, _safe_target, leaks, secret_fingerprints
from course.sandbox import site_paths


def in_edition(
    edition: Path, code: str, timeout: float = 600, cwd=None
) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python that sees the edition and site-packages, and not this repository."""
    bootstrap = f"import sys; sys.path[:0] = [{str(edition)!r}]; sys.path += {site_paths()!r}\n"
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", bootstrap + textwrap.dedent(code)],
        cwd=cwd or edition,
        env=quiet_environment(MPLBACKEND="Agg"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_edition_holds_what_a_learner_needs_and_nothing_instructor_only(edition):
    for needed in (
        "README.md",
        "Makefile",
        "pyproject.toml",
        "requirements.txt",
        "course/__init__.py",
        "course/checking.py",
        "course/cases",
        "course/frozen",
        f"{LIBRARY}/__init__.py",
        "data",
        MARKER,
        "data/pretrained/tiny_world_gpt.weights.h5",
        "course/bench.py",
        "bench/torch_gpt_reference.py",
    ):
        assert (edition / needed).exists(), needed
    for absent in (
        "solutions",
        "course/hidden",
        "tests",
        "docs",
        "course/grade.py",
        "course/release.py",
        "course/sandbox.py",
        "course/sandbox_child.py",
        ".git",
    ):
        assert not (edition / absent).exists(), absent
    assert sorted(p.name for p in (edition / "chapters").glob("*.ipynb")) == [
        p.name for p in chapter_notebooks()
    ]
    assert sorted(p.stem for p in (edition / "course" / "frozen").glob("*.npz")) == sorted(
        course.exercises()
    )
    library = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / LIBRARY).rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert (
        library
        and sorted(str(p.relative_to(edition)) for p in (edition / LIBRARY).rglob("*.py"))
        == library
    )


@pytest.mark.slow
def test_no_reference_answers_or_hidden_cases_anywhere(edition):
    assert leaks(edition) == []
    # The same, spelled out: no body of a reference answer, no hidden-case source, no solutions
    # import.
    text = {
        p: p.read_text(encoding="utf-8", errors="replace")
        for p in edition.rglob("*")
        if p.is_file() and p.suffix in (".py", ".ipynb", ".md", ".toml", ".txt", ".json", "")
    }
    squeeze = lambda s: re.sub(r"\s+", "", s)  # noqa: E731 - compare code without layout
    everything = squeeze("\n".join(text.values()))
    for exercise_id in course.exercises():
        source = textwrap.dedent(__import__("inspect").getsource(reference(exercise_id)))
        body = source.split('"""', 2)[-1] if '"""' in source else source.split(":", 1)[1]
        statements = [
            line.strip()
            for line in body.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        assert statements
        assert squeeze("\n".join(statements)) not in everything, exercise_id
        assert f"def {exercise_id.split('.')[1]}(" not in "\n".join(
            t for p, t in text.items() if p.is_relative_to(edition / LIBRARY)
        ), exercise_id
    for hidden in (ROOT / "course" / "hidden").glob("ch*.py"):
        for line in hidden.read_text(encoding="utf-8").splitlines():
            if "Case(" in line and len(line.strip()) > 30:
                assert squeeze(line) not in everything, line
    for path, content in text.items():
        assert not re.search(r"^\s*(from|import)\s+solutions\b", content, re.M), path
        assert "@hidden(" not in content, path
        assert str(ROOT) not in content, f"{path} names this machine's repository"


@pytest.mark.slow
def test_notebooks_are_blank_worksheets(edition):
    for path in (edition / "chapters").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        tagged = [
            c for c in code if any(t.startswith("exercise:") for t in c.metadata.get("tags", []))
        ]
        assert tagged and all("NotImplementedError" in c.source for c in tagged), path.name
        assert "solutions" not in "".join(c.source for c in code), path.name


@pytest.mark.slow
def test_check_works_offline_without_the_reference(edition, tmp_path):
    """Every exercise's check passes a correct answer and fails a wrong one, from frozen values
    alone."""
    from course import serialize

    def key(value):
        import hashlib

        import numpy as np

        if isinstance(value, (list, tuple)):
            return "(" + ",".join(key(v) for v in value) + ")"
        if isinstance(value, dict):
            return "{" + ",".join(f"{k}:{key(v)}" for k, v in sorted(value.items())) + "}"
        array = np.asarray(value)
        return f"{array.dtype}{array.shape}{hashlib.sha256(array.tobytes()).hexdigest()}"

    # A "correct answer" that knows nothing of the reference inside the edition: the reference's
    # outputs, computed here, looked up by the exact inputs.
    table = {}
    for exercise_id in course.exercises():
        for case in public_cases(exercise_id):
            table[f"{exercise_id}|{key([list(case.args), case.kwargs])}"] = reference(exercise_id)(
                *case.args, **case.kwargs
            )
    serialize.save(tmp_path / "answers.npz", table)
    key_source = textwrap.dedent(__import__("inspect").getsource(key))
    result = in_edition(
        edition,
        f"""
        import importlib.util, json, sys
        import numpy as np
        import course
        from course import serialize
        from course.registry import ReferenceUnavailable, hidden_cases
        {key_source.replace(chr(10), chr(10) + "        ")}
        table = serialize.load({str(tmp_path / "answers.npz")!r})
        report = {{"course": course.__file__,
                   "solutions": importlib.util.find_spec("solutions") is not None}}
        for exercise_id in course.exercises():
            def right(*args, _id=exercise_id, **kwargs):
                return table[_id + "|" + key([list(args), kwargs])]
            wrong = lambda *args, **kwargs: np.zeros(3) + 0.123
            def blank(*args, **kwargs):
                raise NotImplementedError
            good = course.check(exercise_id, right)
            bad = course.check(exercise_id, wrong)
            todo = course.check(exercise_id, blank)
            report[exercise_id] = [good.passed, good.score, bad.passed, bad.score, todo.attempted]
        try:
            course.reference("ch01.sigmoid")
        except ReferenceUnavailable as error:
            report["reference"] = str(error)
        try:
            hidden_cases("ch01.sigmoid")
        except ReferenceUnavailable as error:
            report["hidden"] = str(error)
        print(json.dumps(report))
    """,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report.pop("course")).is_relative_to(edition) and report.pop("solutions") is False
    assert "not part of the student edition" in report.pop("reference")
    assert "instructor-only" in report.pop("hidden")
    for exercise_id, (good, good_score, bad, bad_score, attempted) in report.items():
        assert good and good_score == len(public_cases(exercise_id)), exercise_id
        assert not bad and bad_score < good_score, exercise_id
        assert attempted is False, exercise_id


@pytest.mark.slow
def test_fresh_copy_installs_and_checks(edition, tmp_path):
    """The quick start from a copy in another place: the package builds, `make` knows its targets,
    check works."""
    copy = tmp_path / "copy of the edition"
    shutil.copytree(edition, copy)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(wheels),
            str(copy),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"course/frozen/{e}.npz" for e in course.exercises()} <= set(names)
    assert f"{LIBRARY}/__init__.py" in names and "course/checking.py" in names
    assert not [n for n in names if n.startswith(("solutions/", "course/hidden/"))]
    if shutil.which("make"):
        plan = subprocess.run(
            ["make", "-n", "lab", "verify"], cwd=copy, capture_output=True, text=True, timeout=60
        )
        assert plan.returncode == 0, plan.stderr
        assert "pip install --quiet --no-deps -e ." in plan.stdout and "jupyter lab" in plan.stdout
    result = in_edition(
        copy,
        """
        import json, numpy as np, course
        verdict = course.check("ch01.relu", lambda x: np.maximum(x, 0))
        print(json.dumps([verdict.passed, course.__file__]))
    """,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    passed, where = json.loads(result.stdout.strip().splitlines()[-1])
    assert passed is True and Path(where).is_relative_to(copy)


@pytest.mark.slow
def test_release_replaces_only_an_earlier_edition(edition, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("precious", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "course.release", str(busy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=quiet_environment(MPLBACKEND="Agg"),
    )
    assert result.returncode == 1 and "not an earlier student edition" in result.stderr
    assert (busy / "thesis.tex").read_text(encoding="utf-8") == "precious"
    with pytest.raises(ReleaseError):
        _safe_target(ROOT)
    with pytest.raises(ReleaseError):
        _safe_target(ROOT / "chapters" / "out")
    assert _safe_target(edition) == edition.resolve()  # an earlier edition may be replaced


# --------------------------------------------------------------------------- the pieces


def test_leaks_finds_solutions_hidden_cases_and_copied_answers(tmp_path):
    fingerprints = secret_fingerprints()
    assert leaks(tmp_path, fingerprints) == []
    answer = next(iter(v for k, v in fingerprints.items() if k.startswith("the reference answer")))
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "ch01.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "imports.py").write_text(
        "import numpy\nfrom solutions.ch01 import sigmoid\n", encoding="utf-8"
    )
    (tmp_path / "cases.py").write_text(
        "@hidden('ch01.relu')\ndef more(rng):\n    return []\n", encoding="utf-8"
    )
    (tmp_path / "copied.py").write_text(
        "def mine(x):\n"
        + "".join(f"    {line}\n" for line in sorted(answer, key=len)[-1].splitlines()),
        encoding="utf-8",
    )
    found = "\n".join(leaks(tmp_path, fingerprints))
    assert "solutions: instructor-only path" in found
    assert "imports.py: imports solutions" in found
    assert "cases.py: hidden grading cases" in found
    assert "copied.py: contains the reference answer of" in found


def test_lines_every_formatted_file_shares_are_no_fingerprint(tmp_path):
    """Formatted at 100 columns, any two Python files share runs like ``),`` ``)`` ``return [``:
    CI once refused the edition because public cases "contained" hidden ones by such a run. A run
    with substance, a hidden case's own lines, is still found."""
    from course.release import _normalized_lines

    fingerprints = secret_fingerprints()
    (tmp_path / "brackets.py").write_text(
        "def cases():\n    return [\n        dict(\n            x=1,\n        ),\n    ]\n"
        "def more():\n    blocks = []\n    blocks.append(block)\n    return {\n    }\n",
        encoding="utf-8",
    )
    assert leaks(tmp_path, fingerprints) == []
    hidden_file = Path(ROOT, "course", "hidden", "ch05.py")
    hidden = _normalized_lines(hidden_file.read_text(encoding="utf-8"))
    copied = "\n".join(hidden[len(hidden) // 2 :][:8])
    (tmp_path / "copied_cases.py").write_text(copied, encoding="utf-8")
    assert any("contains course/hidden/ch05.py" in line for line in leaks(tmp_path, fingerprints))


@pytest.mark.slow
def test_library_answers_finds_a_library_function_that_computes_an_answer_however_it_is_written(
    tmp_path,
):
    """No line in common with the reference, a different name and argument name: its behaviour gives
    it away."""
    from course.release import library_answers

    shutil.copytree(
        ROOT / LIBRARY, tmp_path / LIBRARY, ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / LIBRARY / "leaky.py").write_text(
        textwrap.dedent('''
        """A module whose function happens to compute ch07.quantize_int8, without its lines."""
        import numpy as np


        def per_column_int8(matrix):
            """Symmetric int8 with one scale per output column."""
            m = np.asarray(matrix, dtype=np.float32)
            top = np.abs(m).max(axis=0)
            step = np.float32(1) * np.where(top == 0, np.float32(127), top) / np.float32(127)
            return np.clip(np.round(m / step), -127, 127).astype(np.int8), step.astype(np.float32)


        def per_tensor_int8(matrix):
            """One scale for the whole matrix: a common mistake, which the public cases reject."""
            m = np.asarray(matrix, dtype=np.float32)
            step = max(float(np.abs(m).max()), 1e-12) / 127
            scales = np.full(m.shape[1], step, np.float32)
            return np.clip(np.round(m / step), -127, 127).astype(np.int8), scales
        '''),
        encoding="utf-8",
    )
    found = library_answers(tmp_path, ["ch07.quantize_int8", "ch07.magnitude_prune"])
    assert found == [
        "tinyllm/leaky.py: per_column_int8() computes the answer of ch07.quantize_int8 "
        "(it passes every public case)"
    ]
    assert leaks(tmp_path) == []  # the line fingerprints alone miss it


@pytest.mark.slow
def test_the_library_computes_no_exercise_answer():
    from course.release import library_answers

    assert library_answers(ROOT) == []
