"""Execute chapter notebooks headlessly and keep their committed outputs clean; what names a
chapter notebook (:data:`CHAPTER_GLOB`) and an exercise cell (:data:`EXERCISE_TAG`).

    python -m course.notebooks execute [NOTEBOOK ...]   # default: every chapter, outputs saved
                                                        # in place
    python -m course.notebooks tag [NOTEBOOK ...]       # add the machine-dependent tags (see below)

TensorFlow prints start-up notices (CUDA, oneDNN) to stderr before any
setting can silence them; they differ between machines and teach nothing, so
they are removed from the saved outputs. Everything else is kept.

Both commands tag the cells whose outputs depend on the machine (``course/machine_outputs.py``:
they train, time, compress or ask about the hardware, or read what such a cell set) with
``machine-dependent``, so that the comparison with a run on another CPU masks their numbers.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from course.environment import QUIET_ENV, TF_NOISE
from course.machine_outputs import add_missing_tags

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"  # chapters/01_… … 07_…
EXERCISE_TAG = "exercise:"  # a learner's exercise cell is tagged exercise:<id>


def chapter_notebooks(folder=CHAPTERS) -> list:
    """The chapter notebooks of ``folder``, in chapter order."""
    return sorted(Path(folder).glob(CHAPTER_GLOB))


def exercise_ids(tags) -> list:
    """The exercise ids that a cell's ``tags`` name (``exercise:<id>``), in order; anything else is
    ignored."""
    if not isinstance(tags, (list, tuple)):
        return []
    return [
        tag[len(EXERCISE_TAG) :].strip()
        for tag in tags
        if isinstance(tag, str) and tag.startswith(EXERCISE_TAG)
    ]


def clean_outputs(nb) -> None:
    """Drop TensorFlow's start-up notices from stderr outputs (and stderr outputs left empty)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [
                    line
                    for line in output.text.splitlines(keepends=True)
                    if not TF_NOISE.match(line)
                ]
                if not "".join(lines).strip():
                    continue
                output.text = "".join(lines)
            kept.append(output)
        cell.outputs = kept


def execute(path: Path, timeout: int = 900) -> float:
    """Run ``path`` top to bottom in its folder, save it with clean outputs; return seconds
    taken."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.update(QUIET_ENV)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata.setdefault("language_info", {"name": "python"})
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = time.perf_counter() - start
    clean_outputs(nb)
    add_missing_tags(nb)
    nbformat.write(nb, path)
    return seconds


def tag(path: Path) -> list:
    """Add the missing ``machine-dependent`` tags to ``path`` in place; return the cells tagged
    (0-based)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    added = add_missing_tags(nb)
    if added:
        nbformat.write(nb, path)
    return added


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m course.notebooks", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "execute", help="run notebooks top to bottom and save their outputs in place"
    )
    run.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter notebook")
    run.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    tagging = sub.add_parser(
        "tag", help="tag the cells whose outputs depend on the machine, in place"
    )
    tagging.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter notebook")
    args = parser.parse_args(argv)
    paths = args.notebooks or chapter_notebooks()
    for path in paths:
        print(f"{path.name}: ", end="", flush=True)
        if args.command == "tag":
            added = tag(path.resolve())
            print(
                f"tagged cells {', '.join(str(i + 1) for i in added)}"
                if added
                else "nothing to tag",
                flush=True,
            )
        else:
            print(f"{execute(path.resolve(), args.timeout):.0f} s", flush=True)


if __name__ == "__main__":
    main()
