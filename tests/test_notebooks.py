"""The chapter notebooks without running them, and the machinery that runs each one once
(tests/notebooks.py).

A learner's blank worksheet runs top to bottom whether or not the exercises are done. That needs
no run of its own beside the one with every exercise answered (tests/test_chNN_notebook.py), because
- an exercise cell only defines its function (asserted here), so a blank one cannot fail;
- no other cell uses the function except as ``check``'s argument (asserted here: the exercises are
  leaves, docs/CONTRACT.md), so nothing later depends on the answer;
- ``check`` reports a blank answer as "not attempted" and never raises (tests/test_exercises.py, and
  inside the edition tests/test_release.py), and the committed outputs — saved from the blank
  worksheet by `make execute` — show it did (asserted here);
- the answered run's outputs equal those committed outputs cell by cell, checks' verdicts aside.
"""

import ast
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebooks import (
    ANSWER_MARK,
    ROOT,
    SHARED_TESTS,
    answer_source,
    answer_trials,
    chapter_notebooks,
    exercise_cells,
    exercise_of,
    filled,
    filled_cell_source,
    is_check_cell,
    output_differences,
    python_of,
)

import course
from course.environment import quiet_environment
from course.machine_outputs import (
    MACHINE_TAG,
    add_missing_tags,
    machine_dependent_cells,
    missing_tags,
)

NOTEBOOKS = chapter_notebooks()


def chapter_of(path) -> str:
    return "ch" + path.name[:2]


def exercise_names(chapter: str) -> dict:
    return {e.split(".", 1)[1]: e for e in course.exercises() if e.startswith(chapter + ".")}


# --------------------------------------------------------- the blank worksheet runs top to bottom


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_cells_only_define_their_function(path):
    nb = nbformat.read(path, as_version=4)
    for exercise_id, cell in exercise_cells(nb).items():
        tree = ast.parse(cell.source)
        statements = [
            s
            for s in tree.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        ]
        assert len(statements) == 1 and isinstance(statements[0], ast.FunctionDef), exercise_id
        function = statements[0]
        assert function.name == exercise_id.split(".", 1)[1] and not function.decorator_list, (
            exercise_id
        )
        assert all(
            isinstance(d, ast.Constant)
            for d in function.args.defaults + function.args.kw_defaults
            if d is not None
        ), f"{exercise_id}: defaults are constants, so defining it needs nothing"
        assert any(
            isinstance(s, ast.Raise) and "NotImplementedError" in ast.unparse(s)
            for s in function.body
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_depends_on_an_answer(path):
    """Exercise functions are leaves: other cells pass one to ``check`` or try it out (``try: …
    except NotImplementedError: …``, what it binds used nowhere else), and never call or keep it
    otherwise."""
    nb = nbformat.read(path, as_version=4)
    names = exercise_names(chapter_of(path))
    tried = {}  # names bound only in an answer trial -> where: undefined in a blank worksheet
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or exercise_of(cell):
            continue
        tree = python_of(cell.source)
        assert tree is not None, f"cell {index + 1} is not Python"
        checks = is_check_cell(cell)
        allowed = set()
        for node in ast.walk(tree) if checks else ():
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check"
            ):
                allowed |= {id(arg) for arg in node.args[1:2]}  # check("chNN.name", name)
            elif (
                isinstance(node, ast.Tuple)
                and len(node.elts) == 2
                and isinstance(node.elts[0], ast.Constant)
                and isinstance(node.elts[1], ast.Name)
                and names.get(node.elts[1].id) == node.elts[0].value
            ):
                # the summary's `for exercise_id, function in [("chNN.name", name), …]`
                allowed.add(id(node.elts[1]))
        for trial in answer_trials(tree, set(names)):
            allowed |= {id(n) for statement in trial.body for n in ast.walk(statement)}
            handled = {n.id for h in trial.handlers for n in ast.walk(h) if isinstance(n, ast.Name)}
            tried.update(
                {
                    n.id: f"cell {index + 1}"
                    for statement in trial.body
                    for n in ast.walk(statement)
                    if isinstance(n, ast.Name)
                    and isinstance(n.ctx, ast.Store)
                    and n.id not in handled
                }
            )
        used_later = {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        early = {
            name: where
            for name, where in tried.items()
            if where != f"cell {index + 1}" and name in used_later
        }
        assert not early, (
            f"{path.name}, cell {index + 1} uses {early}, bound only when the exercise is done"
        )
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in names:
                assert id(node) in allowed, (
                    f"{path.name}, cell {index + 1}, line {node.lineno}: uses {node.id} "
                    "other than as check's argument; later cells must not depend on the "
                    "learner's answer (use the tinyllm function or the Keras built-in)"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_worksheet_went_through_not_attempted_and_on(path):
    nb = nbformat.read(path, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for exercise_id in exercise_names(chapter_of(path)).values():
        assert f"⏳ {exercise_id}: not attempted" in text, (
            f"{path.name}: commit it executed blank (make execute)"
        )
    assert not re.search(r"[✅❌] ch\d\d\.", text), (
        f"{path.name}: commit it executed blank (make execute)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_has_its_one_run_with_the_shared_tests(path):
    module = importlib.import_module(f"test_{chapter_of(path)}_notebook")
    assert module.CHAPTER == chapter_of(path)
    for test in SHARED_TESTS:
        assert getattr(module, test.__name__, None) is test, (
            f"{module.__name__} must import {test.__name__}"
        )


# ------------------------------------------------------------------------- answers as source text


@pytest.mark.parametrize("exercise_id", course.exercises())
def test_filled_cell_defines_the_reference_answer_without_solutions(exercise_id):
    source = answer_source(exercise_id)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            assert not [m for m in modules if m.split(".")[0] == "solutions"], ast.unparse(node)
    namespace = {}
    exec(compile(filled_cell_source(exercise_id), "<cell>", "exec"), namespace)  # noqa: S102 - our own source
    name = exercise_id.split(".", 1)[1]
    assert set(namespace) - {"__builtins__"} == {name}, (
        "the cell binds the function's name and nothing else"
    )
    result = course.check(exercise_id, namespace[name])
    assert result.passed, result.message


def test_filled_replaces_exactly_the_exercise_cells():
    path = NOTEBOOKS[0]
    nb = nbformat.read(path, as_version=4)
    answered = filled(nb)
    assert len(answered.cells) == len(nb.cells)
    for before, after in zip(nb.cells, answered.cells):
        if exercise_of(before):
            assert "NotImplementedError" in before.source and "_answer" in after.source
        else:
            assert after == before


# ----------------------------------------------------------- comparing with the committed outputs


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for count, (source, outputs, tags) in enumerate(cells, 1):
        cell = nbformat.v4.new_code_cell(
            source, execution_count=count, metadata={"tags": list(tags)}
        )
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        nb.cells.append(cell)
    return nb


def out(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def figure(png, text="<Figure size 640x480 with 1 Axes>"):
    return {
        "output_type": "display_data",
        "data": {"image/png": png, "text/plain": text},
        "metadata": {},
    }


def test_equal_outputs_after_sanitizing_pass():
    committed = notebook(
        ("print(loss)", [out("loss 0.3381 after 12.4 s\n")], ()),
        ("plot()", [out("warning\n", "stderr"), figure("AAAA")], ()),
        (
            'check("ch01.relu", relu)\nprint("next")',
            [out("⏳ ch01.relu: not attempted yet\nnext\n")],
            (),
        ),
        ("print(time.time())", [out("1700000000\n")], ("nbval-ignore-output",)),
        ("for i in range(2): print(i)", [out("0\n"), out("1\n")], ()),
    )
    executed = notebook(
        ("print(loss)", [out("loss 0.3379 after 9.1 s\n")], ()),
        ("plot()", [figure("BBBB")], ()),
        (
            'check("ch01.relu", relu)\nprint("next")',
            [out("✅ ch01.relu: all 4 cases pass\nnext\n")],
            (),
        ),
        ("print(time.time())", [out("1800000000\n")], ("nbval-ignore-output",)),
        ("for i in range(2): print(i)", [out("0\n1\n")], ()),
    )
    assert output_differences(committed, executed) == []


def test_each_kind_of_difference_is_reported():
    committed = notebook(
        ("print(words)", [out("one day the end\n")], ()),
        ("print(1)", [out("⏳ ch01.relu: not attempted yet\n")], ()),
        ("plot()", [figure("AAAA")], ()),
        ("f()", [], ()),
        ("print(2)", [out("2\n")], ()),
    )
    executed = notebook(
        ("print(words)", [out("one day a dog\n")], ()),
        # not a check cell: verdicts compared
        (
            "print(1)",
            [out("✅ ch01.relu: all 4 cases pass\n")],
            (),
        ),
        ("plot()", [], ()),
        (
            "f()",
            [{"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}],
            (),
        ),
        ("print(2)", [out("2\n"), out("3\n")], ()),
    )
    found = output_differences(committed, executed)
    assert len(found) == 5, found
    assert "cell 1" in found[0] and "-one day the end" in found[0] and "+one day a dog" in found[0]
    assert "cell 2" in found[1]
    assert "cell 3" in found[2] and "text/plain" in found[2]
    assert "cell 4 (f()) raised ValueError: bad" == found[3]
    assert "cell 5" in found[4]
    assert "differ in length" in output_differences(committed, notebook())[0]


def test_skip_and_unrun_cells():
    committed = notebook(
        ("a", [out("x\n")], ("nbval-skip",)), ("b", [], ()), ("c", [out("y\n")], ())
    )
    committed.cells[1].execution_count = None
    executed = notebook(
        ("a", [], ("nbval-skip",)), ("b", [out("z\n")], ()), ("c", [out("y\n")], ())
    )
    assert output_differences(committed, executed) == []
    committed.cells[1].outputs = [nbformat.from_dict(out("z\n"))]
    assert "unrun cell with saved outputs" in output_differences(committed, executed)[0]
    marked = notebook(("# NBVAL_IGNORE_OUTPUT\nprint(now)", [out("1\n")], ()))
    assert (
        output_differences(
            marked, notebook(("# NBVAL_IGNORE_OUTPUT\nprint(now)", [out("2\n")], ()))
        )
        == []
    )


def test_answer_trials_are_compared_up_to_the_trial():
    trial = (
        "print('a')\ntry:\n    x = relu(1)\n    print(x)\n"
        "except NotImplementedError:\n    print('write relu first')\n"
    )
    nb = notebook(
        ("def relu(x):\n    raise NotImplementedError\n", [], ("exercise:ch01.relu",)),
        (trial, [out("a\nwrite relu first\n")], ()),
    )
    answered = filled(nb)
    assert (
        answered.cells[1].source
        == f"print('a')\nprint({ANSWER_MARK!r})\n" + trial.split("\n", 1)[1]
    )
    assert len(answer_trials(ast.parse(trial), {"relu"})) == 1 and not answer_trials(
        ast.parse(trial), {"sigmoid"}
    )
    executed = notebook(("", [], ()), (trial, [out(f"a\n{ANSWER_MARK}\n1\n")], ()))
    assert output_differences(nb, executed) == []
    executed.cells[1].outputs = [nbformat.from_dict(out(f"b\n{ANSWER_MARK}\n1\n"))]
    assert "cell 2" in output_differences(nb, executed)[0]


# ------------------------------------------------------------- outputs that depend on the machine
# A committed notebook was executed on one CPU and is compared with a run on another
# (course/machine_outputs.py).


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_machine_dependent_cells_carry_the_tag(path):
    """Every cell that trains, times, compresses or asks about the machine, or reads what such a
    cell set, carries `machine-dependent` (or keeps out of the comparison): `python -m
    course.notebooks tag` adds it."""
    missing = missing_tags(nbformat.read(path, as_version=4))
    assert not missing, (
        f"{path.name}: cells without the {MACHINE_TAG} tag (`python -m course.notebooks tag`): "
        + "; ".join(f"cell {index + 1} {reason}" for index, reason in missing.items())
    )


def test_the_analysis_follows_values_from_a_source_and_back():
    nb = notebook(
        ("model = build()\nprint(model.count_params())", [out("4,225\n")], ()),
        ("history = model.fit(x, y, epochs=3)", [out("loss 0.3\n")], ()),
        ("print(history.history['loss'][-1])", [out("0.2\n")], ()),
        ("failures = int((model.predict(x) != y).sum())\nprint(failures)", [out("22\n")], ()),
        # rebuilt: clean again
        (
            "model = build()\nprint(model.count_params())",
            [out("4,225\n")],
            (),
        ),
        ("def timed():\n    return time.perf_counter()", [], ()),
        ("print(timed())", [out("3.2\n")], ()),
        ("import platform\nprint(platform.processor())", [out("x86_64\n")], ()),
        ("print(choose_precision())", [out("float32\n")], ()),
        ("history = train_model(model, data)", [], ()),  # trains `model` in place
        ("print(model.count_params())", [out("4,225\n")], ()),
        ("print([n for n in range(3)])", [out("[0, 1, 2]\n")], ()),
    )
    found = machine_dependent_cells(nb)
    assert sorted(found) == [1, 2, 3, 5, 6, 7, 8, 9, 10], found
    assert (
        "calls fit" in found[1] and "reads history" in found[2] and "calls perf_counter" in found[5]
    )
    assert sorted(missing_tags(nb)) == [1, 2, 3, 6, 7, 8, 10]  # cells 5 and 9 print nothing
    nb.cells[2].metadata["tags"] = ["nbval-ignore-output"]
    assert add_missing_tags(nb) == [1, 3, 6, 7, 8, 10] and not missing_tags(nb)
    assert nb.cells[3].metadata["tags"] == [MACHINE_TAG] and nb.cells[2].metadata["tags"] == [
        "nbval-ignore-output"
    ]


# What chapter 4's comparison table and chapter 5's precision line printed on an AMD EPYC
# (committed) and on an Intel Xeon with AMX (executed); chapter 7's compressed sizes moved in the
# last digits.
TABLE_AMD = (
    "model                      exact match   failures\n"
    "LSTM seq2seq (chapter 2)        0.412        118\n"
    "LSTM + attention                1.000          0\n"
    "Transformer                     0.927         22\n"
)
TABLE_INTEL = TABLE_AMD.replace("0.927         22", "0.973          8").replace("118", "131")


def machine_cells(*outputs, tags=(MACHINE_TAG,)):
    return notebook(*[("print(report)", [out(text)], tags) for text in outputs])


def test_machine_dependent_numbers_are_masked_and_words_are_not():
    amd = machine_cells(
        TABLE_AMD,
        "precision chosen for this machine: float32\n",
        "int8 weights, zip-compressed: 836,515 bytes (3.4x smaller)\n",
    )
    intel = machine_cells(
        TABLE_INTEL,
        "precision chosen for this machine: mixed_bfloat16\n",
        "int8 weights, zip-compressed: 836,585 bytes (3.5x smaller)\n",
    )
    assert output_differences(amd, intel) == []
    # Untagged, the same outputs differ (the failure of issue 24).
    assert (
        len(
            output_differences(
                machine_cells(TABLE_AMD, tags=()), machine_cells(TABLE_INTEL, tags=())
            )
        )
        == 1
    )
    # A real change still fails in a tagged cell: a sentence, a row, an error.
    changed = TABLE_INTEL.replace("LSTM + attention", "LSTM + attention (Bahdanau)")
    missing_row = "".join(TABLE_INTEL.splitlines(keepends=True)[:-1])
    precision = "precision chosen for this machine: float32\n"
    for committed, executed in [
        (TABLE_AMD, changed),
        (TABLE_AMD, missing_row),
        (precision, precision.replace("this", "the")),
        (precision, "float32\n"),
    ]:
        found = output_differences(machine_cells(committed), machine_cells(executed))
        assert len(found) == 1 and "stdout differs" in found[0], (executed, found)
    error = machine_cells(TABLE_AMD)
    error.cells[0].outputs = [
        nbformat.from_dict(
            {"output_type": "error", "ename": "ValueError", "evalue": "bad shape", "traceback": []}
        )
    ]
    assert "raised ValueError: bad shape" in output_differences(machine_cells(TABLE_AMD), error)[0]


def _nbval(folder, notebook_path, *options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-q",
            str(notebook_path),
            *options,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env=quiet_environment(),
    )


@pytest.mark.slow
def test_nbval_judges_machine_dependent_cells_as_make_test_does(tmp_path):
    """`pytest --nbval` with the repository's conftest.py and sanitize files (copied beside a small
    notebook): another machine's numbers pass in a tagged cell, a changed word fails, an untagged
    cell compares all."""
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "tests").mkdir()
    for name in ("nbval_sanitize.cfg", "nbval_machine.cfg"):
        shutil.copy(ROOT / "tests" / name, tmp_path / "tests" / name)
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", encoding="utf-8")
    # Executed here, the cells print TABLE_INTEL; the committed outputs say what another machine
    # printed.
    verdicts = {}
    for name, saved, tags in [
        ("amd_tagged", TABLE_AMD, (MACHINE_TAG,)),
        ("amd_untagged", TABLE_AMD, ()),
        ("changed_words", TABLE_AMD.replace("failures", "errors"), (MACHINE_TAG,)),
    ]:
        nb = notebook((f"print({TABLE_INTEL!r}, end='')", [out(saved)], tags))
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        result = _nbval(tmp_path, f"{name}.ipynb")
        verdicts[name] = result.returncode
        assert (result.returncode == 0) == (
            output_differences(nb, notebook((nb.cells[0].source, [out(TABLE_INTEL)], tags))) == []
        ), (name, result.stdout[-3000:])
    assert verdicts == {"amd_tagged": 0, "amd_untagged": 1, "changed_words": 1}, verdicts


def readme_nbval_command() -> str:
    """The README's command that runs nbval on chapter 1."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(
        r"^(\S*pytest --nbval chapters/01_\S+\.ipynb)\s*(#.*)?$", readme, flags=re.M
    )
    assert len(commands) == 1, (
        "README.md should show one `pytest --nbval chapters/01_….ipynb` command"
    )
    return commands[0][0]


@pytest.mark.slow
@pytest.mark.notebook
def test_the_readmes_nbval_command_passes_on_chapter_1():
    """Exactly the README's command (its `.venv/bin/` is this test's interpreter's folder), from the
    root."""
    command = readme_nbval_command()
    command = command.replace(".venv/bin/", str(Path(sys.executable).parent) + "/", 1)
    result = subprocess.run(
        command,
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=quiet_environment(),
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", result.stdout), result.stdout[-2000:]
