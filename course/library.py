"""Keep the teaching library and the chapters' pages in step: every definition of ``tinyllm`` is on
its page.

    python -m course.library check   # exit 1, naming each difference, unless every page shows
                                     # the library verbatim
    python -m course.library sync    # rewrite the pages' library cells from tinyllm/ (the source
                                     # of truth)

A chapter shows a definition of ``tinyllm.<module>`` in a code cell tagged
``library:tinyllm.<module>``; the cell may hold several definitions and plain
statements between them. Each top-level function and class of the library must
appear, character for character, in exactly one such cell of one chapter, and a
library cell may define nothing the library lacks. Edit ``tinyllm/``, then run
``sync``; ``tests/test_library.py`` runs ``check``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

from course.notebooks import CHAPTERS, chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = "tinyllm"
LIBRARY_TAG = "library:"


@dataclass(frozen=True)
class Definition:
    module: str  # "tinyllm.gpt"
    name: str
    source: str  # decorators included


def top_level_definitions(source: str, module: str) -> dict:
    """``{name: Definition}`` of the functions and classes defined at the top of ``source``."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found[node.name] = Definition(
                module, node.name, "".join(lines[start - 1 : node.end_lineno]).rstrip("\n")
            )
    return found


def library_definitions() -> dict:
    """``{(module, name): Definition}`` for every module of the library."""
    found = {}
    for path in sorted((ROOT / LIBRARY).glob("*.py")):
        module = f"{LIBRARY}.{path.stem}" if path.stem != "__init__" else LIBRARY
        for name, definition in top_level_definitions(
            path.read_text(encoding="utf-8"), module
        ).items():
            found[(module, name)] = definition
    return found


def library_cells(nb) -> list:
    """``[(index, module, cell)]`` for the code cells tagged ``library:<module>``."""
    cells = []
    for index, cell in enumerate(nb.cells):
        for tag in cell.get("metadata", {}).get("tags", []):
            if cell.cell_type == "code" and tag.startswith(LIBRARY_TAG):
                cells.append((index, tag[len(LIBRARY_TAG) :], cell))
    return cells


def differences(notebooks=None) -> list:
    """Every way the pages and the library disagree, as sentences (empty: in step)."""
    import nbformat

    library = library_definitions()
    shown = {}
    problems = []
    for path in notebooks or chapter_notebooks():
        nb = nbformat.read(path, as_version=4)
        for index, module, cell in library_cells(nb):
            where = f"{Path(path).name} cell {index + 1}"
            try:
                on_page = top_level_definitions(cell.source, module)
            except SyntaxError as error:
                problems.append(f"{where}: not Python ({error.msg}, line {error.lineno})")
                continue
            for name, definition in on_page.items():
                key = (module, name)
                if key not in library:
                    problems.append(
                        f"{where} defines {module}.{name}, which the library does not have"
                    )
                elif key in shown:
                    problems.append(f"{module}.{name} is shown twice: {shown[key]} and {where}")
                else:
                    shown[key] = where
                    if definition.source != library[key].source:
                        problems.append(
                            f"{where}: {module}.{name} differs from {module.replace('.', '/')}.py "
                            "(run `python -m course.library sync`)"
                        )
    for key in sorted(set(library) - set(shown)):
        problems.append(
            f"{key[0]}.{key[1]} is on no chapter's page (a code cell tagged {LIBRARY_TAG}{key[0]})"
        )
    return problems


def sync(notebooks=None) -> list:
    """Rewrite every library cell's definitions from the library; returns the notebooks changed."""
    import nbformat

    library = library_definitions()
    changed = []
    for path in notebooks or chapter_notebooks():
        nb = nbformat.read(path, as_version=4)
        before = [cell.source for cell in nb.cells]
        for _, module, cell in library_cells(nb):
            for name, definition in top_level_definitions(cell.source, module).items():
                if (module, name) in library and definition.source != library[
                    (module, name)
                ].source:
                    cell.source = cell.source.replace(
                        definition.source, library[(module, name)].source
                    )
        if [cell.source for cell in nb.cells] != before:
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course.library", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=("check", "sync"))
    args = parser.parse_args(argv)
    if args.command == "sync":
        for path in sync():
            print(f"updated {Path(path).relative_to(CHAPTERS.parent)}")
    problems = differences()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"every definition of {LIBRARY}/ is on its chapter's page, verbatim")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
