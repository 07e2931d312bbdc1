"""Chapter notebooks in tests: each one is executed once, and that one execution serves every
purpose.

``run_in_edition`` runs a chapter the way a learner who has done every exercise would: the
chapter's notebook from the student edition (blank exercises, no ``solutions`` package, a
Python that cannot see this repository), with each exercise cell filled with the SOURCE TEXT
of the reference answer (:func:`answer_source`). From that single run the chapter tests assert

- every check shows ✅ — so the edition's frozen expected values work too;
- the results the chapter prints lie in their bands (the variables asked for);
- every other cell's outputs equal the committed notebook's saved ones, as ``pytest --nbval`` judges
  them (same sanitize rules, ``tests/nbval_sanitize.cfg``, and in a cell tagged
  ``machine-dependent`` those of ``tests/nbval_machine.cfg`` too, as the repository's
  ``conftest.py`` has nbval do; same cell tags and markers; stderr never compared), with the check
  verdict lines left out — committed notebooks are blank worksheets, so their checks say "not
  attempted" — and a cell that tries an answer out (``try: … except NotImplementedError: …``, see
  :func:`answer_trials`) compared up to that ``try``;
- the notebook ran inside the edition, not from this repository.

That the blank worksheet also runs top to bottom needs no second run: an exercise cell only
defines its function, no other cell uses it except as ``check``'s argument or in an answer trial
whose results no later cell reads, and ``check`` reports a blank answer as "not attempted" without
raising (tests/test_notebooks.py asserts these statically and on the committed outputs); the
comparison above then shows that the answers change nothing else.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.environment import QUIET_ENV
from course.machine_outputs import MACHINE_TAG, python_of, sanitize_rules
from course.notebooks import chapter_notebooks, exercise_ids

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
# every cell (pyproject.toml / conftest.py give it to nbval)
SANITIZE_FILE = TESTS / "nbval_sanitize.cfg"
# cells tagged machine-dependent, after the first
MACHINE_SANITIZE_FILE = TESTS / "nbval_machine.cfg"
CELL_TIMEOUT = 900  # seconds, as nbval's --nbval-cell-timeout had it

# The kernel's environment: quiet, reproducible TensorFlow (a value the caller set wins, so that
# `TF_ENABLE_ONEDNN_OPTS=1 make test` or ONEDNN_MAX_CPU_ISA=AVX2 reach the notebooks), and the
# figure backend a learner's Jupyter uses (a caller's MPLBACKEND=Agg would otherwise drop every
# figure from the outputs).
KERNEL_ENV = {
    **{key: os.environ.get(key, value) for key, value in QUIET_ENV.items()},
    **{key: os.environ[key] for key in ("ONEDNN_MAX_CPU_ISA",) if key in os.environ},
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}


# --------------------------------------------------------------------------- reading notebooks


def notebook_for(chapter: str) -> Path:
    """The notebook of ``chapter`` ("ch01" or "01")."""
    number = chapter.removeprefix("ch")
    matches = [p for p in chapter_notebooks() if p.name.startswith(number + "_")]
    if len(matches) != 1:
        raise FileNotFoundError(f"expected one notebook for chapter {chapter}, found {matches}")
    return matches[0]


def exercise_of(cell) -> str | None:
    """The exercise id of a cell tagged ``exercise:<id>``, else None."""
    ids = exercise_ids(cell.get("metadata", {}).get("tags", []))
    return ids[0] if ids else None


def exercise_cells(nb) -> dict:
    """exercise id -> code cell, from the ``exercise:<id>`` tags."""
    return {exercise_of(cell): cell for cell in nb.cells if exercise_of(cell)}


def is_check_cell(cell) -> bool:
    """A code cell that calls ``check(...)``: its verdict lines depend on the learner's answers."""
    tree = python_of(cell.source) if cell.cell_type == "code" else None
    return tree is not None and any(
        isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check"
        for node in ast.walk(tree)
    )


def _catches_not_implemented(handler: ast.ExceptHandler) -> bool:
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id == "NotImplementedError" for t in caught)


def answer_trials(tree: ast.AST, names: set) -> list:
    """The cell's top-level ``try:`` statements that call an exercise function (one of ``names``)
    and catch its ``NotImplementedError``: a blank worksheet prints the handler's words there, an
    answered one more."""
    return [
        node
        for node in getattr(tree, "body", [])
        if isinstance(node, ast.Try)
        and any(_catches_not_implemented(h) for h in node.handlers)
        and _used_names(ast.Module(body=node.body, type_ignores=[])) & set(names)
    ]


def output_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
            elif output.get("output_type") == "error":
                parts.append(f"ERROR {output.get('ename')}: {output.get('evalue')}")
    return "\n".join(parts)


# ----------------------------------------------------------- the reference answers as source text


def _bound_names(node: ast.stmt) -> dict:
    """``{name: statement}`` for what a top-level statement binds (an import: one statement per
    alias)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        found = {}
        for alias in node.names:
            single = (
                ast.Import(names=[alias])
                if isinstance(node, ast.Import)
                else ast.ImportFrom(module=node.module, names=[alias], level=node.level)
            )
            ast.copy_location(single, node)
            name = alias.asname or alias.name.split(".")[0]
            if name != "*":
                found[name] = single
        return found
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name: node}
    return {
        n.id: node
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _used_names(node: ast.AST) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@functools.lru_cache(maxsize=None)
def _module_parts(module_name: str) -> tuple:
    """(source lines, top-level statements, {name: statement}, has ``from __future__ import
    annotations``)."""
    path = Path(importlib.import_module(module_name).__file__)
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    names, future = {}, False
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future = future or any(a.name == "annotations" for a in node.names)
            continue
        names.update(_bound_names(node))
    return source.splitlines(keepends=True), tree.body, names, future


def _segment(lines: list, node: ast.stmt) -> str:
    """The statement's text (with its decorators); an import: the one alias needed, as a line of its
    own."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return ast.unparse(node) + "\n"
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "".join(lines[first - 1 : node.end_lineno])


def _absolute(module_name: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module_name.rsplit(".", node.level)[0]
    return f"{package}.{node.module}" if node.module else package


def answer_source(exercise_id: str) -> str:
    """Module source that defines the reference answer of ``exercise_id`` and needs no
    ``solutions``.

    The function's own text from ``solutions/chNN.py``, with what it uses from that module
    (imports, constants, private helpers, other functions), transitively and in the module's
    order; a name the module imports from another ``solutions`` module is inlined the same way.
    """
    chapter, name = exercise_id.split(".", 1)
    pieces, future, seen = [], False, set()

    def need(module_name: str, wanted: str, alias: str) -> None:
        nonlocal future
        lines, body, names, has_future = _module_parts(module_name)
        if wanted not in names:
            raise LookupError(
                f"{module_name} defines no top-level {wanted!r} (needed by {exercise_id})"
            )
        future = future or has_future
        todo, chosen = [wanted], {}
        while todo:
            current = todo.pop()
            if current in chosen or current not in names:
                continue
            node = names[current]
            if (
                isinstance(node, ast.ImportFrom)
                and _absolute(module_name, node).split(".")[0] == "solutions"
            ):
                imported = node.names[0]
                need(_absolute(module_name, node), imported.name, imported.asname or imported.name)
                chosen[current] = None
                continue
            if isinstance(node, ast.Import) and node.names[0].name.split(".")[0] == "solutions":
                raise ValueError(
                    f"{module_name}: `import {node.names[0].name}` — tests/notebooks.py inlines "
                    "only "
                    "`from solutions.<module> import <name>`"
                )
            chosen[current] = node
            todo += sorted(_used_names(node) - set(chosen))
        nodes = {id(n): n for n in chosen.values() if n is not None}
        order = sorted(nodes.values(), key=lambda n: (n.lineno, n.col_offset, _segment(lines, n)))
        for node in order:
            key = (module_name, _segment(lines, node))
            if key not in seen:
                seen.add(key)
                pieces.append(key[1])
        if alias != wanted:
            pieces.append(f"{alias} = {wanted}\n")

    need(f"solutions.{chapter}", name, name)
    return ("from __future__ import annotations\n\n" if future else "") + "\n".join(pieces)


def filled_cell_source(exercise_id: str) -> str:
    """An exercise cell holding the reference answer: it binds the function's name and nothing
    else."""
    chapter, name = exercise_id.split(".", 1)
    return (
        f"# The reference answer of {exercise_id}, filled in by tests/notebooks.py. Run in a "
        "namespace of its\n"
        f"# own, so that, like the learner's cell, this cell binds `{name}` and nothing else.\n"
        f"_answer = {{'__name__': 'reference_{chapter}'}}\n"
        f"exec(compile({answer_source(exercise_id)!r}, '<reference answer {exercise_id}>', "
        "'exec'), _answer)\n"
        f"{name} = _answer[{name!r}]\n"
        f"del _answer\n"
    )


# Printed just before a cell's first answer trial (see answer_trials): the comparison stops there.
ANSWER_MARK = "--- what follows depends on the exercise answers (tests/notebooks.py) ---"


def filled(nb):
    """A copy of ``nb`` whose exercise cells hold the reference answers' source (see answer_source),
    and whose cells with an answer trial print ANSWER_MARK before it."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    exercises = exercise_cells(nb)
    names = {exercise_id.split(".", 1)[1] for exercise_id in exercises}
    for cell in nb.cells:
        if cell.cell_type != "code" or exercise_of(cell):
            continue
        try:
            trials = answer_trials(ast.parse(cell.source), names)
        except SyntaxError:
            continue
        if trials:
            lines = cell.source.splitlines(keepends=True)
            lines.insert(trials[0].lineno - 1, f"print({ANSWER_MARK!r})\n")
            cell.source = "".join(lines)
    for exercise_id, cell in exercises.items():
        cell.source = filled_cell_source(exercise_id)
    return nb


# ----------------------------------------------------------- executing inside the student edition


def edition_kernel(edition: Path, workdir: Path):
    """A kernel manager whose Python sees the edition and site-packages, and not this repository."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    from course.sandbox import site_paths

    kernels = Path(workdir) / "kernels" / "edition-python"
    kernels.mkdir(parents=True, exist_ok=True)
    bootstrap = (
        f"import sys; sys.path[:0] = [{str(edition)!r}]; sys.path += {site_paths()!r}; "
        "from ipykernel import kernelapp; kernelapp.launch_new_instance()"
    )
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-I", "-S", "-c", bootstrap, "-f", "{connection_file}"],
                "display_name": "student edition",
                "language": "python",
                "env": KERNEL_ENV,
            }
        ),
        encoding="utf-8",
    )
    return KernelManager(
        kernel_name="edition-python",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels.parent)]),
    )


@dataclass
class ChapterRun:
    """One execution of a chapter inside the edition, exercises answered."""

    chapter: str
    nb: object  # the executed notebook (the probe cell removed)
    values: dict  # the variables asked for, read from the kernel after the last cell (JSON)
    course_file: str  # where `course` was imported from
    solutions_importable: bool
    seconds: float
    committed: object = field(repr=False, default=None)  # the committed notebook, outputs as saved


def run_in_edition(
    edition: Path, chapter: str, variables: tuple = (), workdir: Path | None = None
) -> ChapterRun:
    """Execute ``chapter`` from the student edition with every exercise answered; see the module
    docstring."""
    from nbclient import NotebookClient

    committed_path = notebook_for(chapter)
    path = Path(edition) / "chapters" / committed_path.name
    nb = filled(nbformat.read(path, as_version=4))
    probe = (
        "import importlib.util as _util, json as _json, course as _course\n"
        "print('__RESULTS__' + _json.dumps({'values': {%s}, 'course': _course.__file__, "
        "'solutions': _util.find_spec('solutions') is not None}, default=float))"
        % ", ".join(f"{name!r}: {name}" for name in variables)
    )
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"{chapter}-run-"))
    km = edition_kernel(edition, workdir)
    client = NotebookClient(
        nb, km=km, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.monotonic()
    try:
        client.execute()
    finally:
        # nbclient leaves a kernel it was given running: its models would hold memory to the end
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    seconds = time.monotonic() - start
    last = nb.cells.pop()
    text = "".join(o.get("text", "") for o in last.outputs if o.get("output_type") == "stream")
    report = json.loads(text.split("__RESULTS__", 1)[1])
    return ChapterRun(
        chapter,
        nb,
        report["values"],
        report["course"],
        report["solutions"],
        seconds,
        nbformat.read(committed_path, as_version=4),
    )


# ------------------------------------------------------------------------- what the run must show


def assert_every_check_passes(nb, chapter: str) -> None:
    """Every exercise of ``chapter`` shows ✅ in the executed ``nb``, and nothing failed or
    errored."""
    import course

    text = output_text(nb)
    for exercise_id in [i for i in course.exercises() if i.startswith(chapter + ".")]:
        assert f"✅ {exercise_id}" in text, f"{exercise_id} did not pass in the solved notebook"
    assert "❌" not in text and "⏳" not in text and "ERROR" not in text


# nbval's markers: cell tags, or the same words as a comment line in the cell.
_MARKERS = {
    "nbval-ignore-output": "ignore",
    "nbval-check-output": "check",
    "nbval-skip": "skip",
    "nbval-raises-exception": "raises",
    "raises-exception": "raises",
    "pytest-validate-ignore-output": "ignore",
}
# Never compared, as with nbval: everything but the text and data, images (they differ in the last
# bits of a PNG across machines), and stderr (TensorFlow's notices; tests/conftest.py).
_NOT_COMPARED = {
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
    "stderr",
}
_VERDICT = re.compile(r"^[✅❌⏳] ch\d\d\.\w+\b.*(\n|$)", re.M)


def cell_markers(cell) -> set:
    found = {_MARKERS[t] for t in cell.get("metadata", {}).get("tags", []) if t in _MARKERS}
    for line in cell.get("source", "").splitlines():
        comment = (
            line.strip().lstrip("#").strip().lower().replace("_", "-")
            if line.strip().startswith("#")
            else ""
        )
        if comment in _MARKERS:
            found.add(_MARKERS[comment])
    if "check" in found:
        found.discard("ignore")
    return found


def _coalesced(outputs) -> list:
    """Streams of the same name merged, ``\\r`` and ``\\b`` applied (as nbval compares them)."""
    merged, streams = [], {}
    for output in outputs:
        output = dict(output)
        if output.get("output_type") == "stream":
            if output["name"] in streams:
                streams[output["name"]]["text"] += output["text"]
                continue
            streams[output["name"]] = output
        merged.append(output)
    for output in streams.values():
        text = output["text"]
        while True:
            shorter = re.sub(r"[^\n]\x08", "", text)
            if shorter == text:
                break
            text = shorter
        output["text"] = re.sub(r"^.*\r(?=[^\n])", "", text, flags=re.M)
    return merged


def _comparable(outputs, rules: list, check_cell: bool) -> dict:
    """``{key: [sanitized values]}``: a stream by its name, display data by MIME type; ``rules``
    applied in order."""
    found = {}
    for output in _coalesced(outputs):
        if output.get("output_type") == "stream":
            items = {output["name"]: output["text"]}
        else:
            items = {k: v for k, v in output.items() if k != "data"}
            items.update(output.get("data", {}))
        for key, value in items.items():
            if key in _NOT_COMPARED:
                continue
            if isinstance(value, list):
                value = "".join(value)
            if isinstance(value, str):
                if check_cell and key == "stdout":
                    value = _VERDICT.sub("", value)
                for regex, replacement in rules:
                    value = re.sub(regex, replacement, value)
            found.setdefault(key, []).append(value)
    return found


def output_differences(committed, executed) -> list:
    """Where ``executed`` differs from ``committed``'s saved outputs, as nbval would judge, in
    sentences.

    The two notebooks have the same cells (the executed one from the edition: exercise cells
    filled and ``solutions`` imports rewritten, so sources are not compared).
    """
    rules, machine_rules = sanitize_rules(SANITIZE_FILE), sanitize_rules(MACHINE_SANITIZE_FILE)
    if len(committed.cells) != len(executed.cells):
        return [
            f"the notebooks differ in length: {len(committed.cells)} cells committed, "
            f"{len(executed.cells)} executed"
        ]
    found = []
    for index, (saved, ran) in enumerate(zip(committed.cells, executed.cells)):
        if saved.cell_type != "code":
            continue
        where = (
            f"cell {index + 1} "
            f"({saved.source.strip().splitlines()[0][:60] if saved.source.strip() else 'empty'})"
        )
        markers = cell_markers(saved)
        errors = [o for o in ran.get("outputs", []) if o.get("output_type") == "error"]
        if errors and "raises" not in markers:
            found.append(f"{where} raised {errors[0].get('ename')}: {errors[0].get('evalue')}")
            continue
        if "skip" in markers or "ignore" in markers:
            continue
        if saved.get("execution_count") is None:
            if saved.get("outputs"):
                found.append(f"{where}: unrun cell with saved outputs")
            continue
        check_cell = is_check_cell(saved)
        cell_rules = rules + (
            machine_rules if MACHINE_TAG in saved.get("metadata", {}).get("tags", []) else []
        )
        want = _comparable(saved.get("outputs", []), cell_rules, check_cell)
        got = _comparable(ran.get("outputs", []), cell_rules, check_cell)
        if ANSWER_MARK in "".join(got.get("stdout", [])):  # compared up to the answer trial
            before = got["stdout"][0].split(ANSWER_MARK, 1)[0]
            got["stdout"] = [before]
            want["stdout"] = [
                "".join(
                    "".join(want.get("stdout", [])).splitlines(keepends=True)[: before.count("\n")]
                )
            ]
        if want.keys() != got.keys():
            found.append(
                f"{where}: outputs {sorted(got)} where the committed notebook has {sorted(want)}"
            )
            continue
        for key in want:
            if len(want[key]) != len(got[key]):
                found.append(
                    f"{where}: {len(got[key])} {key} output(s), committed {len(want[key])}"
                )
            elif want[key] != got[key]:
                diff = difflib.unified_diff(
                    "\n".join(map(str, want[key])).splitlines(),
                    "\n".join(map(str, got[key])).splitlines(),
                    "committed",
                    "executed",
                    lineterm="",
                    n=1,
                )
                lines = "\n".join(diff)
                found.append(f"{where}: {key} differs\n{lines[:3000]}")
    return found


# --------------------------------------------------------- the tests every chapter module imports
# A chapter module (tests/test_chNN_notebook.py) sets CHAPTER and VARIABLES and imports these; its
# `solved` fixture (tests/conftest.py) is the chapter's one execution.


def test_every_check_passes(solved):
    assert_every_check_passes(solved.nb, solved.chapter)


def test_outputs_equal_the_committed_notebook(solved):
    """What `pytest --nbval` checked: each cell's outputs, sanitized, equal the saved ones (checks'
    verdicts aside)."""
    differences = output_differences(solved.committed, solved.nb)
    assert not differences, (
        f"{notebook_for(solved.chapter).name}: outputs differ from the committed ones "
        "(re-run `make execute` if the change is meant):\n\n" + "\n\n".join(differences)
    )


def test_runs_inside_the_edition_without_solutions(solved, edition):
    assert Path(solved.course_file).is_relative_to(edition), solved.course_file
    assert solved.solutions_importable is False
    print(f"{solved.chapter}: executed in {solved.seconds:.0f} s")


SHARED_TESTS = (
    test_every_check_passes,
    test_outputs_equal_the_committed_notebook,
    test_runs_inside_the_edition_without_solutions,
)
