"""The student edition, `python -m course.release OUT_DIR`: no answers in it, `check` works offline
with the reference missing, the notebooks run top to bottom inside it, and it installs from a fresh copy.

"Inside it" means a Python that cannot see this repository: ``python -I -S`` with only the
edition and site-packages on ``sys.path`` (``-S`` skips the ``.pth`` of the repository's
editable install), as on a learner's machine.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from notebooks import ROOT, chapter_notebooks

import course
from course.registry import public_cases, reference
from course.release import (
    MARKER,
    ReleaseError,
    _drop_empty_sections,
    _safe_target,
    import_problems,
    leaks,
    rewrite_imports,
    strip_exercises,
)
from course.sandbox import site_paths

QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_BACKEND": "tensorflow",
         "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}


def in_edition(edition: Path, code: str, timeout: float = 600, cwd=None) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python that sees the edition and site-packages, and not this repository."""
    bootstrap = f"import sys; sys.path[:0] = [{str(edition)!r}]; sys.path += {site_paths()!r}\n"
    return subprocess.run([sys.executable, "-I", "-S", "-c", bootstrap + textwrap.dedent(code)],
                          cwd=cwd or edition, env={**os.environ, **QUIET}, capture_output=True, text=True,
                          timeout=timeout)


# --------------------------------------------------------------------------- building it, once


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student edition"
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "course.release", str(out)], cwd=ROOT,
                            env={**os.environ, **QUIET}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert time.monotonic() - start < 300  # measured 13 s under load (importing TensorFlow for ch04's reference)
    return out


@pytest.mark.slow
def test_edition_holds_what_a_learner_needs_and_nothing_instructor_only(edition):
    for needed in ("README.md", "Makefile", "pyproject.toml", "requirements.txt", "course/__init__.py",
                   "course/checking.py", "course/cases", "course/frozen", "teaching/__init__.py", "data", MARKER):
        assert (edition / needed).exists(), needed
    for absent in ("solutions", "course/hidden", "tests", "docs", "course/grade.py", "course/release.py",
                   "course/sandbox.py", "course/sandbox_child.py", ".git"):
        assert not (edition / absent).exists(), absent
    assert sorted(p.name for p in (edition / "chapters").glob("*.ipynb")) == [p.name for p in chapter_notebooks()]
    assert sorted(p.stem for p in (edition / "course" / "frozen").glob("*.npz")) == sorted(course.exercises())
    for module in (ROOT / "solutions").glob("ch[0-9][0-9].py"):
        assert (edition / "teaching" / module.name).exists()


@pytest.mark.slow
def test_no_reference_answers_or_hidden_cases_anywhere(edition):
    assert leaks(edition) == []
    # The same, spelled out: no body of a reference answer, no hidden-case source, no solutions import.
    text = {p: p.read_text(encoding="utf-8", errors="replace") for p in edition.rglob("*") if p.is_file()
            and p.suffix in (".py", ".ipynb", ".md", ".toml", ".txt", ".json", "")}
    squeeze = lambda s: re.sub(r"\s+", "", s)  # noqa: E731 - compare code without layout
    everything = squeeze("\n".join(text.values()))
    for exercise_id in course.exercises():
        source = textwrap.dedent(__import__("inspect").getsource(reference(exercise_id)))
        body = source.split('"""', 2)[-1] if '"""' in source else source.split(":", 1)[1]
        statements = [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]
        assert statements
        assert squeeze("\n".join(statements)) not in everything, exercise_id
        assert f"def {exercise_id.split('.')[1]}(" not in "\n".join(
            t for p, t in text.items() if p.is_relative_to(edition / "teaching")), exercise_id
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
        tagged = [c for c in code if any(t.startswith("exercise:") for t in c.metadata.get("tags", []))]
        assert tagged and all("NotImplementedError" in c.source for c in tagged), path.name
        assert "solutions" not in "".join(c.source for c in code), path.name


@pytest.mark.slow
def test_check_works_offline_without_the_reference(edition, tmp_path):
    """Every exercise's check passes a correct answer and fails a wrong one, from frozen values alone."""
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

    # A "correct answer" that knows nothing of the reference inside the edition: the reference's outputs,
    # computed here, looked up by the exact inputs.
    table = {}
    for exercise_id in course.exercises():
        for case in public_cases(exercise_id):
            table[f"{exercise_id}|{key([list(case.args), case.kwargs])}"] = reference(exercise_id)(*case.args, **case.kwargs)
    serialize.save(tmp_path / "answers.npz", table)
    key_source = textwrap.dedent(__import__("inspect").getsource(key))
    result = in_edition(edition, f"""
        import importlib.util, json, sys
        import numpy as np
        import course
        from course import serialize
        from course.registry import ReferenceUnavailable, hidden_cases
        {key_source.replace(chr(10), chr(10) + '        ')}
        table = serialize.load({str(tmp_path / 'answers.npz')!r})
        report = {{"course": course.__file__, "solutions": importlib.util.find_spec("solutions") is not None}}
        for exercise_id in course.exercises():
            right = lambda *args, _id=exercise_id, **kwargs: table[_id + "|" + key([list(args), kwargs])]
            wrong = lambda *args, **kwargs: np.zeros(3) + 0.123
            def blank(*args, **kwargs):
                raise NotImplementedError
            good, bad, todo = course.check(exercise_id, right), course.check(exercise_id, wrong), course.check(exercise_id, blank)
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
    """)
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
    """The quick start from a copy in another place: the package builds, `make` knows its targets, check works."""
    copy = tmp_path / "copy of the edition"
    shutil.copytree(edition, copy)
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", "-w", str(wheels), str(copy)], capture_output=True, text=True, timeout=300,
                           cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = wheels.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"course/frozen/{e}.npz" for e in course.exercises()} <= set(names)
    assert "teaching/ch01.py" in names and "course/checking.py" in names
    assert not [n for n in names if n.startswith(("solutions/", "course/hidden/"))]
    if shutil.which("make"):
        plan = subprocess.run(["make", "-n", "lab", "verify"], cwd=copy, capture_output=True, text=True, timeout=60)
        assert plan.returncode == 0, plan.stderr
        assert "pip install --quiet --no-deps -e ." in plan.stdout and "jupyter lab" in plan.stdout
    result = in_edition(copy, """
        import json, numpy as np, course
        print(json.dumps([course.check("ch01.relu", lambda x: np.maximum(x, 0)).passed, course.__file__]))
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    passed, where = json.loads(result.stdout.strip().splitlines()[-1])
    assert passed is True and Path(where).is_relative_to(copy)


@pytest.mark.slow
def test_release_replaces_only_an_earlier_edition(edition, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("precious", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "course.release", str(busy)], cwd=ROOT, capture_output=True,
                            text=True, timeout=600, env={**os.environ, **QUIET})
    assert result.returncode == 1 and "not an earlier student edition" in result.stderr
    assert (busy / "thesis.tex").read_text(encoding="utf-8") == "precious"
    with pytest.raises(ReleaseError):
        _safe_target(ROOT)
    with pytest.raises(ReleaseError):
        _safe_target(ROOT / "chapters" / "out")
    assert _safe_target(edition) == edition.resolve()  # an earlier edition may be replaced


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("name", [p.name for p in chapter_notebooks()])
def test_notebook_runs_top_to_bottom_inside_the_edition(edition, tmp_path, name):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    kernels = tmp_path / "kernels" / "edition-python"
    kernels.mkdir(parents=True)
    bootstrap = (f"import sys; sys.path[:0] = [{str(edition)!r}]; sys.path += {site_paths()!r}; "
                 "from ipykernel import kernelapp; kernelapp.launch_new_instance()")
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-I", "-S", "-c", bootstrap, "-f", "{connection_file}"],
        "display_name": "student edition", "language": "python", "env": QUIET}), encoding="utf-8")
    manager = KernelManager(kernel_name="edition-python",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels.parent)]))
    path = edition / "chapters" / name
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import importlib.util, json, course\n"
        "print('__WHERE__' + json.dumps([course.__file__, importlib.util.find_spec('solutions') is None]))"))
    NotebookClient(nb, km=manager, timeout=900, resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    where, no_solutions = json.loads(text.split("__WHERE__", 1)[1].splitlines()[0])
    assert Path(where).is_relative_to(edition) and no_solutions
    chapter = "ch" + name[:2]
    for exercise_id in [e for e in course.exercises() if e.startswith(chapter + ".")]:
        assert f"{exercise_id}: not attempted" in text


# --------------------------------------------------------------------------- the pieces


def test_rewrite_imports():
    source = ("from solutions.ch01 import CharTokenizer\nfrom solutions import ch01, ch04 as attention\n"
              "import solutions.ch05 as five\nx = solutions.ch01.relu  # see solutions/ch01.py\n"
              "f'solutions.{chapter}'\nmy.solutions.thing\n")
    assert rewrite_imports(source) == (
        "from teaching.ch01 import CharTokenizer\nfrom teaching import ch01, ch04 as attention\n"
        "import teaching.ch05 as five\nx = teaching.ch01.relu  # see teaching/ch01.py\n"
        "f'solutions.{chapter}'\nmy.solutions.thing\n")


SOLUTIONS_MODULE = '''"""Chapter 9."""

import numpy as np

# --------------------------------------------------------------------------- exercises


@decorated
def square(x):
    """x²."""
    return np.square(x)


def cube(x):
    return x ** 3


# --------------------------------------------------------------------------- teaching code


def area(side, square=None):
    square = square or (lambda v: v * v)
    return square(side)
'''


def test_strip_exercises_keeps_teaching_code():
    stripped = strip_exercises(SOLUTIONS_MODULE, {"square", "cube"})
    assert "def square" not in stripped and "def cube" not in stripped and "@decorated" not in stripped
    assert "def area(side, square=None)" in stripped
    assert "exercises" not in stripped and "teaching code" in stripped
    namespace = {}
    exec(stripped, namespace)  # noqa: S102 - our own test module
    assert namespace["area"](3) == 9


def test_strip_exercises_refuses_teaching_code_that_uses_an_exercise():
    with pytest.raises(ReleaseError, match="uses square"):
        strip_exercises(SOLUTIONS_MODULE + "\n\ndef volume(side):\n    return square(side) * side\n", {"square", "cube"})
    with pytest.raises(ReleaseError, match="still defined"):
        strip_exercises(SOLUTIONS_MODULE + "\ncube = lambda x: x ** 3\n", {"square", "cube"})


def test_import_problems():
    import ast

    names = {"ch01": {"sigmoid", "relu"}}
    assert import_problems(ast.parse("from teaching.ch01 import CharTokenizer\nfrom teaching import ch01\n"
                                     "ch01.CharTokenizer('ab')"), names) == []
    assert import_problems(ast.parse("from teaching.ch01 import relu"), names)
    assert import_problems(ast.parse("from teaching import ch01 as one\none.sigmoid(0)"), names)
    assert import_problems(ast.parse("import teaching.ch01 as one\none.relu(0)"), names)
    assert import_problems(ast.parse("import solutions"), names)
    assert import_problems(ast.parse("from .ch01 import relu"), names, package="teaching")


def test_drop_empty_sections():
    text = "a = 1\n\n# ------------- one\n\n\n# ------------- two\n\nb = 2\n\n# ------------- three\n"
    assert _drop_empty_sections(text) == "a = 1\n\n\n# ------------- two\n\nb = 2\n\n"
