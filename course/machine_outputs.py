"""Which cells of a chapter notebook print what depends on the machine, and the tag that says so.

A committed notebook was executed on one CPU; the tests execute it again on another. Floats differ
in their last digits (the sanitize rules in ``tests/nbval_sanitize.cfg`` mask those everywhere), but
some outputs differ in more than that: an Intel CPU with AMX chooses ``mixed_bfloat16`` where an AMD
one chooses ``float32``, a trained model's count of failures reads 8 on one and 22 on the other,
a zip file's size moves by tens of bytes, and every timing is the machine's own.

Such a cell carries the cell tag :data:`MACHINE_TAG`. The output comparison (``tests/notebooks.py``
for ``make test``, and ``pytest --nbval`` through the repository's ``conftest.py``) then masks every
number in it, and the dtype-policy names, with the rules of ``tests/nbval_machine.cfg``; the words,
the rows and their order are still compared. The values that matter are asserted as bands by the
chapter's ``tests/test_chNN_notebook.py``.

Which cells need the tag is decided here, statically, so that a new cell cannot forget it:
a cell depends on the machine when it calls something that trains, loads trained weights, times,
compresses or asks about the machine (:data:`CALLED`, :data:`MODULES`), or reads a variable that
such a cell (or one reading from it, and so on) set or changed. ``python -m course.notebooks
execute`` adds the tag where it is missing; ``tests/test_notebooks.py`` fails on a committed
notebook where it is missing. A cell whose printed *words* depend on the machine (a sample from a
trained model, the CPU's name) carries ``nbval-ignore-output`` instead.
"""

from __future__ import annotations

import ast
import re

MACHINE_TAG = "machine-dependent"
# Tags that already keep a cell's outputs out of the comparison (nbval's markers).
NOT_COMPARED_TAGS = {"nbval-ignore-output", "nbval-skip", "pytest-validate-ignore-output"}

# What makes a result depend on the machine: calling something that trains or takes a gradient step,
# loads trained weights, times, compresses or measures stored sizes, or asks about the hardware
# (matched against the called function's or method's own name), or anything reached through a module
# that does (matched against the first name of ``time.perf_counter()``, ``platform.processor()`` …).
CALLED = re.compile(
    r"^(fit|fit_\w+|train|train_\w+|\w+_train|fine_tune\w*|\w*gradient_descent\w*|GradientTape|apply_gradients"
    r"|minimize|assign_sub|Distiller|distill\w*|learning_curves|make_train_step"
    r"|load_weights|load_pretrained\w*"
    r"|perf_counter\w*|monotonic\w*|process_time\w*|timeit|autorange|\w*[Tt]imer\w*|time_\w+|\w+_time|\w*timing\w*|median_ms"
    r"|\w*per_second\w*|\w*benchmark\w*"
    r"|ZipFile|compress|getsize|stat|saved_bytes|stored_bytes"
    r"|cpu_count|cpu_has_\w+|choose_precision|list_physical_devices|list_logical_devices|uname|processor)$"
)
MODULES = {
    "time",
    "timeit",
    "zipfile",
    "zlib",
    "gzip",
    "bz2",
    "lzma",
    "platform",
    "psutil",
    "resource",
}


def sanitize_rules(path) -> list:
    """``[(regex, replacement)]`` of an nbval sanitize file, in order, read as nbval reads one."""
    from pathlib import Path

    return re.findall(
        r"^regex: (.*)$\n^replace: (.*)$", Path(path).read_text(encoding="utf-8"), flags=re.M
    )


def python_of(source: str) -> ast.Module | None:
    """The cell's code as a syntax tree (IPython magics translated), or None."""
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001 - not Python even for IPython
        return None


def _chain(node: ast.AST) -> list:
    """The names along ``a.b(c).d[e]``: ``['a', 'b', 'd']`` (the root first when it is a name)."""
    names = []
    while True:
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, (ast.Call, ast.Subscript)):
            node = node.func if isinstance(node, ast.Call) else node.value
        elif isinstance(node, ast.Name):
            names.append(node.id)
            return names[::-1]
        else:
            return names[::-1]


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _imported(tree: ast.AST) -> set:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def calls_a_source(tree: ast.AST) -> set:
    """What in the code makes its results depend on the machine: called names that match
    :data:`CALLED`, modules of :data:`MODULES` that a call goes through, and ``os.environ``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            chain = _chain(node.func)
            if chain and CALLED.match(chain[-1]):
                found.add(chain[-1])
            if chain and chain[0] in MODULES:
                found.add(chain[0])
        elif isinstance(node, ast.Attribute) and node.attr == "environ":
            found.add("environ")
    return found


_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _top_level(node: ast.AST):
    """The nodes of a statement outside any function, lambda, class or comprehension inside it."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, _SCOPES):
            yield from _top_level(child)


def _local(node: ast.AST) -> set:
    """Names bound inside the functions, lambdas and comprehensions of ``node`` (their own
    variables)."""
    names = set()
    for scope in ast.walk(node):
        if isinstance(scope, _SCOPES):
            names |= {
                n.id
                for n in ast.walk(scope)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            names |= {a.arg for a in ast.walk(scope) if isinstance(a, ast.arg)}
    return names


def _changed(statement: ast.stmt, modules: set) -> set:
    """Variables a top-level statement binds (not by import) or changes in place: ``x = …``, ``x.y =
    …``,
    ``x[i] = …``, ``x.method(…)`` (a model's ``fit``, a list's ``append``), ``def x``."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    names = set()
    for node in _top_level(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store):
            names.add(_root(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names.add(_root(node.func))
        if isinstance(node, ast.Call) and calls_a_source(ast.Expr(node.func)) | _called_source(
            node
        ):
            # the variables a training or timing call is given may be changed by it: ``train(model,
            # data)``
            names |= {
                arg.id
                for arg in [*node.args, *(k.value for k in node.keywords)]
                if isinstance(arg, ast.Name)
            }
    return names - modules - {None}


def _called_source(call: ast.Call) -> set:
    chain = _chain(call.func)
    return {chain[-1]} if chain and CALLED.match(chain[-1]) else set()


def _read(statement: ast.stmt) -> set:
    """Variables the statement reads from the notebook's namespace (not its functions' own)."""
    loads = {
        n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    # a def or class: what its body reads that it does not bind itself
    if isinstance(statement, _SCOPES):
        return loads - _local(statement)
    top = {
        n.id
        for n in _top_level(statement)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return top | (loads - _local(statement))


def machine_dependent_cells(nb) -> dict:
    """``{cell index: reason}`` for the code cells whose outputs depend on the machine (module
    docstring).

    Walks the cells' top-level statements in order, keeping the variables whose values came from a
    source: a statement that calls a source or reads such a variable depends on the machine, and
    every variable it binds or changes joins them; a statement that rebinds a variable from clean
    inputs takes it out again. A cell depends on the machine when one of its statements does.
    """
    trees = [
        (i, python_of(cell.source)) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
    ]
    modules = set().union(*[_imported(tree) for _, tree in trees if tree is not None])
    tainted, found = {}, {}  # variable -> index of the cell where it came from a source
    for index, tree in trees:
        for statement in tree.body if tree is not None else []:
            sources = calls_a_source(statement)
            inherited = sorted(_read(statement) & tainted.keys())
            changed = _changed(statement, modules)
            if sources or inherited:
                found.setdefault(
                    index,
                    f"calls {', '.join(sorted(sources))}"
                    if sources
                    else f"reads {', '.join(inherited[:3])} "
                    f"(from cell {tainted[inherited[0]] + 1})",
                )
                for name in changed:
                    tainted.setdefault(name, index)
            else:
                for name in changed:
                    tainted.pop(name, None)
    return found


def _has_output(cell) -> bool:
    """Anything the comparison would look at: stdout, results and displays (stderr never is)."""
    return any(
        not (o.get("output_type") == "stream" and o.get("name") == "stderr")
        for o in cell.get("outputs", [])
    )


def missing_tags(nb) -> dict:
    """``{cell index: reason}`` for machine-dependent cells with outputs that carry neither
    :data:`MACHINE_TAG` nor a tag that keeps them out of the comparison."""
    missing = {}
    for index, reason in machine_dependent_cells(nb).items():
        cell = nb.cells[index]
        tags = set(cell.get("metadata", {}).get("tags", []))
        if _has_output(cell) and not tags & (NOT_COMPARED_TAGS | {MACHINE_TAG}):
            missing[index] = reason
    return missing


def add_missing_tags(nb) -> list:
    """Tag every cell :func:`missing_tags` names; return their indices."""
    missing = missing_tags(nb)
    for index in missing:
        nb.cells[index].setdefault("metadata", {}).setdefault("tags", []).append(MACHINE_TAG)
    return sorted(missing)
