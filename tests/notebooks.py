"""Helpers to read, solve and execute chapter notebooks in tests."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
EXERCISE_TAG = "exercise:"


def chapter_notebooks() -> list:
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


def notebook_for(chapter: str) -> Path:
    """The notebook of ``chapter`` ("ch01" or "01")."""
    number = chapter.removeprefix("ch")
    matches = [p for p in chapter_notebooks() if p.name.startswith(number + "_")]
    if len(matches) != 1:
        raise FileNotFoundError(f"expected one notebook for chapter {chapter}, found {matches}")
    return matches[0]


def exercise_cells(nb) -> dict:
    """exercise id -> code cell, from the ``exercise:<id>`` tags."""
    found = {}
    for cell in nb.cells:
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag.startswith(EXERCISE_TAG):
                found[tag[len(EXERCISE_TAG):]] = cell
    return found


def solved(nb):
    """A copy of ``nb`` whose exercise cells import the reference answer from ``solutions``."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for exercise_id, cell in exercise_cells(nb).items():
        chapter, name = exercise_id.split(".", 1)
        cell.source = f"from solutions.{chapter} import {name}"
    return nb


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


@functools.lru_cache(maxsize=None)
def run_solved(chapter: str, variables: tuple = ()) -> tuple:
    """Execute the solved rendering of ``chapter``; return (executed notebook, {variable: value}).

    ``variables`` are read from the kernel after the last cell, as JSON, so the
    tests can assert bands on the very numbers the notebook printed.
    """
    path = notebook_for(chapter)
    nb = solved(nbformat.read(path, as_version=4))
    probe = "import json as _json\nprint('__RESULTS__' + _json.dumps({%s}, default=float))" % ", ".join(
        f"{name!r}: {name}" for name in variables
    )
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(CHAPTERS)}},
    )
    client.execute()
    last = nb.cells.pop()
    text = "".join(o.get("text", "") for o in last.outputs if o.get("output_type") == "stream")
    values = json.loads(text.split("__RESULTS__", 1)[1]) if "__RESULTS__" in text else {}
    return nb, values


def assert_every_check_passes(nb, chapter: str) -> None:
    """Every exercise of ``chapter`` shows ✅ in the executed ``nb``, and nothing failed or errored."""
    import course

    text = output_text(nb)
    for exercise_id in [i for i in course.exercises() if i.startswith(chapter + ".")]:
        assert f"✅ {exercise_id}" in text, f"{exercise_id} did not pass in the solved notebook"
    assert "❌" not in text and "⏳" not in text and "ERROR" not in text
