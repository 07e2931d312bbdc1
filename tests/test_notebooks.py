"""The chapter notebooks without running them, and the machinery that runs each one once (tests/notebooks.py).

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

import nbformat
import pytest

import course
from notebooks import (
    ANSWER_MARK,
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

NOTEBOOKS = chapter_notebooks()


def chapter_of(path) -> str:
    return "ch" + path.name[:2]


def exercise_names(chapter: str) -> dict:
    return {e.split(".", 1)[1]: e for e in course.exercises() if e.startswith(chapter + ".")}


# --------------------------------------------------------------------------- the blank worksheet runs top to bottom


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_cells_only_define_their_function(path):
    nb = nbformat.read(path, as_version=4)
    for exercise_id, cell in exercise_cells(nb).items():
        tree = ast.parse(cell.source)
        statements = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        assert len(statements) == 1 and isinstance(statements[0], ast.FunctionDef), exercise_id
        function = statements[0]
        assert function.name == exercise_id.split(".", 1)[1] and not function.decorator_list, exercise_id
        assert all(isinstance(d, ast.Constant) for d in function.args.defaults + function.args.kw_defaults
                   if d is not None), f"{exercise_id}: defaults are constants, so defining it needs nothing"
        assert any(isinstance(s, ast.Raise) and "NotImplementedError" in ast.unparse(s) for s in function.body)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_depends_on_an_answer(path):
    """Exercise functions are leaves: other cells pass one to ``check`` or try it out (``try: … except
    NotImplementedError: …``, what it binds used nowhere else), and never call or keep it otherwise."""
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
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check":
                allowed |= {id(arg) for arg in node.args[1:2]}  # check("chNN.name", name)
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Constant) \
                    and isinstance(node.elts[1], ast.Name) and names.get(node.elts[1].id) == node.elts[0].value:
                allowed.add(id(node.elts[1]))  # the summary's `for exercise_id, function in [("chNN.name", name), …]`
        for trial in answer_trials(tree, set(names)):
            allowed |= {id(n) for statement in trial.body for n in ast.walk(statement)}
            handled = {n.id for h in trial.handlers for n in ast.walk(h) if isinstance(n, ast.Name)}
            tried.update({n.id: f"cell {index + 1}" for statement in trial.body for n in ast.walk(statement)
                          if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id not in handled})
        used_later = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        early = {name: where for name, where in tried.items() if where != f"cell {index + 1}" and name in used_later}
        assert not early, f"{path.name}, cell {index + 1} uses {early}, bound only when the exercise is done"
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in names:
                assert id(node) in allowed, (f"{path.name}, cell {index + 1}, line {node.lineno}: uses {node.id} "
                                             "other than as check's argument; later cells must not depend on the "
                                             "learner's answer (use the tinyllm function or the Keras built-in)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_worksheet_went_through_not_attempted_and_on(path):
    nb = nbformat.read(path, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for exercise_id in exercise_names(chapter_of(path)).values():
        assert f"⏳ {exercise_id}: not attempted" in text, f"{path.name}: commit it executed blank (make execute)"
    assert not re.search(r"[✅❌] ch\d\d\.", text), f"{path.name}: commit it executed blank (make execute)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_has_its_one_run_with_the_shared_tests(path):
    module = importlib.import_module(f"test_{chapter_of(path)}_notebook")
    assert module.CHAPTER == chapter_of(path)
    for test in SHARED_TESTS:
        assert getattr(module, test.__name__, None) is test, f"{module.__name__} must import {test.__name__}"


# --------------------------------------------------------------------------- answers as source text


@pytest.mark.parametrize("exercise_id", course.exercises())
def test_filled_cell_defines_the_reference_answer_without_solutions(exercise_id):
    source = answer_source(exercise_id)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert not [m for m in modules if m.split(".")[0] == "solutions"], ast.unparse(node)
    namespace = {}
    exec(compile(filled_cell_source(exercise_id), "<cell>", "exec"), namespace)  # noqa: S102 - our own source
    name = exercise_id.split(".", 1)[1]
    assert set(namespace) - {"__builtins__"} == {name}, "the cell binds the function's name and nothing else"
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


# --------------------------------------------------------------------------- comparing with the committed outputs


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for count, (source, outputs, tags) in enumerate(cells, 1):
        cell = nbformat.v4.new_code_cell(source, execution_count=count, metadata={"tags": list(tags)})
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        nb.cells.append(cell)
    return nb


def out(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def figure(png, text="<Figure size 640x480 with 1 Axes>"):
    return {"output_type": "display_data", "data": {"image/png": png, "text/plain": text}, "metadata": {}}


def test_equal_outputs_after_sanitizing_pass():
    committed = notebook(
        ("print(loss)", [out("loss 0.3381 after 12.4 s\n")], ()),
        ("plot()", [out("warning\n", "stderr"), figure("AAAA")], ()),
        ('check("ch01.relu", relu)\nprint("next")', [out("⏳ ch01.relu: not attempted yet\nnext\n")], ()),
        ("print(time.time())", [out("1700000000\n")], ("nbval-ignore-output",)),
        ("for i in range(2): print(i)", [out("0\n"), out("1\n")], ()),
    )
    executed = notebook(
        ("print(loss)", [out("loss 0.3379 after 9.1 s\n")], ()),
        ("plot()", [figure("BBBB")], ()),
        ('check("ch01.relu", relu)\nprint("next")', [out("✅ ch01.relu: all 4 cases pass\nnext\n")], ()),
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
        ("print(1)", [out("✅ ch01.relu: all 4 cases pass\n")], ()),  # not a check cell: verdicts compared
        ("plot()", [], ()),
        ("f()", [{"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}], ()),
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
    committed = notebook(("a", [out("x\n")], ("nbval-skip",)), ("b", [], ()), ("c", [out("y\n")], ()))
    committed.cells[1].execution_count = None
    executed = notebook(("a", [], ("nbval-skip",)), ("b", [out("z\n")], ()), ("c", [out("y\n")], ()))
    assert output_differences(committed, executed) == []
    committed.cells[1].outputs = [nbformat.from_dict(out("z\n"))]
    assert "unrun cell with saved outputs" in output_differences(committed, executed)[0]
    marked = notebook(("# NBVAL_IGNORE_OUTPUT\nprint(now)", [out("1\n")], ()))
    assert output_differences(marked, notebook(("# NBVAL_IGNORE_OUTPUT\nprint(now)", [out("2\n")], ()))) == []


def test_answer_trials_are_compared_up_to_the_trial():
    trial = ("print('a')\ntry:\n    x = relu(1)\n    print(x)\n"
             "except NotImplementedError:\n    print('write relu first')\n")
    nb = notebook(("def relu(x):\n    raise NotImplementedError\n", [], ("exercise:ch01.relu",)),
                  (trial, [out("a\nwrite relu first\n")], ()))
    answered = filled(nb)
    assert answered.cells[1].source == f"print('a')\nprint({ANSWER_MARK!r})\n" + trial.split("\n", 1)[1]
    assert len(answer_trials(ast.parse(trial), {"relu"})) == 1 and not answer_trials(ast.parse(trial), {"sigmoid"})
    executed = notebook(("", [], ()), (trial, [out(f"a\n{ANSWER_MARK}\n1\n")], ()))
    assert output_differences(nb, executed) == []
    executed.cells[1].outputs = [nbformat.from_dict(out(f"b\n{ANSWER_MARK}\n1\n"))]
    assert "cell 2" in output_differences(nb, executed)[0]
