"""Three packages, one job each: the chapters build tinyllm on their pages, solutions holds answers
only.

- every top-level function and class of ``tinyllm`` is shown verbatim in a chapter's code cell
  (``python -m course.library check``), and a page that drifts from the library is caught;
- no notebook imports ``solutions``; ``tinyllm`` imports neither ``course`` nor ``solutions``;
  ``course`` imports ``solutions`` at no module's import time;
- ``solutions`` defines the exercise functions and private helpers only.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import course
from course import library
from course.notebooks import chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(source: str) -> set:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_every_library_definition_is_on_its_chapters_page():
    assert library.differences() == []


def test_a_page_that_drifts_from_the_library_is_caught(tmp_path):
    path = tmp_path / "05_copy.ipynb"
    nb = nbformat.read(
        next(p for p in chapter_notebooks() if p.name.startswith("05_")), as_version=4
    )
    cell = next(c for _, _, c in library.library_cells(nb) if "def gpt_params(" in c.source)
    cell.source = cell.source.replace(
        "def gpt_params(model: GPT) -> dict:", "def gpt_params(model) -> dict:"
    )
    nbformat.write(nb, path)
    problems = library.differences([path])
    assert any("tinyllm.gpt.gpt_params differs" in p for p in problems)
    # the other chapters are not in this list
    assert any("is on no chapter's page" in p for p in problems)
    library.sync([path])
    assert not any("differs" in p for p in library.differences([path]))


@pytest.mark.slow
def test_the_check_command_passes_and_names_its_result():
    result = subprocess.run(
        [sys.executable, "-m", "course.library", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "every definition of tinyllm/ is on its chapter's page, verbatim" in result.stdout


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.name[:2])
def test_no_notebook_imports_solutions(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            assert not {m for m in imported_modules(source) if m.split(".")[0] == "solutions"}, (
                source[:200]
            )


def test_package_imports_go_one_way():
    for path in sorted((ROOT / "tinyllm").glob("*.py")):
        roots = {m.split(".")[0] for m in imported_modules(path.read_text(encoding="utf-8"))}
        assert not roots & {"course", "solutions"}, (
            f"{path.name} imports {roots & {'course', 'solutions'}}"
        )
    for path in sorted((ROOT / "course").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = set()
        for (
            node
        ) in tree.body:  # module-level statements only: a lazy import inside a function is allowed
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                top_level |= imported_modules(ast.unparse(node))
        assert not {m for m in top_level if m.split(".")[0] == "solutions"}, path


def test_solutions_holds_only_exercise_answers():
    answers = {}
    for exercise_id in course.exercises():
        chapter, name = exercise_id.split(".")
        answers.setdefault(chapter, set()).add(name)
    for path in sorted((ROOT / "solutions").glob("ch*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        public = {name for name in defined if not name.startswith("_")}
        assert public == answers[path.stem], f"{path.name}: {sorted(public ^ answers[path.stem])}"


# --------------------------------------------------------------------------- chapter order
# The library is read in chapter order: a definition shown in chapter N uses only what chapters ≤ N
# built.


def chapter_of_modules() -> dict:
    """``{tinyllm module: the first chapter whose page shows one of its definitions}`` (``library:``
    tags)."""
    chapters = {}
    for path in chapter_notebooks():
        number = int(path.name[:2])
        for _, module, _ in library.library_cells(nbformat.read(path, as_version=4)):
            chapters.setdefault(module, number)
    return chapters


def library_imports(source: str) -> set:
    """The ``tinyllm.<module>`` names imported anywhere in ``source``, inside functions too."""
    return {m for m in imported_modules(source) if m.startswith("tinyllm.")}


def order_violations(chapters: dict, sources: dict) -> list:
    """Sentences for each import of a later chapter's module; ``sources`` maps a module (or a page)
    to
    ``(its chapter, its code)``."""
    found = []
    for name, (chapter, source) in sources.items():
        for imported in sorted(library_imports(source)):
            later = chapters.get(imported)
            if later is None:
                found.append(
                    f"{name} (chapter {chapter}) imports {imported}, which no chapter's page shows"
                )
            elif later > chapter:
                found.append(
                    f"{name} (chapter {chapter}) imports {imported}, built in chapter {later}"
                )
    return found


def library_and_page_sources(chapters: dict) -> dict:
    sources = {}
    for module, chapter in chapters.items():
        path = ROOT / (module.replace(".", "/") + ".py")
        sources[module] = (chapter, path.read_text(encoding="utf-8"))
    for path in chapter_notebooks():
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(
            c.source
            for c in nb.cells
            if c.cell_type == "code" and not c.source.lstrip().startswith(("%", "!"))
        )
        sources[path.name] = (int(path.name[:2]), code)
    return sources


def test_every_library_module_is_shown_on_a_page():
    modules = {f"tinyllm.{p.stem}" for p in (ROOT / "tinyllm").glob("*.py") if p.stem != "__init__"}
    assert modules == set(chapter_of_modules()), sorted(modules ^ set(chapter_of_modules()))


def test_the_library_and_the_pages_use_only_earlier_chapters():
    chapters = chapter_of_modules()
    violations = order_violations(chapters, library_and_page_sources(chapters))
    assert not violations, "\n".join(violations)


def test_a_chapter_order_violation_is_caught():
    chapters = {"tinyllm.sampling": 5, "tinyllm.kv_cache": 7}
    late = "def generate(model):\n    from tinyllm.kv_cache import cached_next_token_logits\n"
    assert order_violations(chapters, {"tinyllm.sampling": (5, late)}) == [
        "tinyllm.sampling (chapter 5) imports tinyllm.kv_cache, built in chapter 7"
    ]
    assert order_violations(
        chapters, {"05_x.ipynb": (5, "from tinyllm.kv_cache import gpt_with_cache")}
    )
    assert (
        order_violations(
            chapters, {"tinyllm.kv_cache": (7, "from tinyllm.sampling import generate")}
        )
        == []
    )
