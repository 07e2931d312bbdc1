"""Grade learners' notebooks into a CSV gradebook.

    python -m course.grade SUBMISSION.ipynb... --out grades.csv [--timeout SECONDS] [--memory-mb MB]

Each submission's exercise cells (code cells tagged ``exercise:<id>``) run in a
locked-in process of their own (:mod:`course.sandbox`), and every exercise is
scored on its public and hidden cases, here, in the grader's process: an
exercise is worth 1 point, shared equally among its cases. A chapter whose
exercise cells appear in a notebook is graded whole, so a deleted exercise
cell scores 0 rather than shrinking the maximum.

The gradebook has one row per submission (``submission``, one column per
exercise, ``total``, ``max``, ``notes``), in the order given, and is rewritten
atomically after every submission: an interrupted run keeps the rows it made.
A notebook that is broken, hostile, slow or not a notebook at all gets its row
with zeros and the reason in ``notes``. The exit status is 0 when every
submission got a row.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
import tempfile
import threading
import time
import unicodedata
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from course.checking import CaseOutcome, judge
from course.notebooks import exercise_ids
from course.registry import (
    ReferenceUnavailable,
    exercises,
    get_exercise,
    hidden_cases,
    public_cases,
)
from course.sandbox import (
    Cell,
    Limits,
    Sandbox,
    become_subreaper,
    isolation_summary,
    reap_orphans,
    stop_all,
)

MAX_NOTEBOOK_MB = 20
NOTE_LIMIT = 300
FIXED_COLUMNS = ("submission",)
TAIL_COLUMNS = ("total", "max", "notes")


@dataclass
class Row:
    submission: str
    scores: dict = field(default_factory=dict)  # exercise id -> points in [0, 1]
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def max_score(self) -> float:
        return float(len(self.scores))


# --------------------------------------------------------------------------- reading a submission


class NotANotebook(ValueError):
    """The file is not a notebook the grader can read; the message says why."""


def _clean(text: str, limit: int = NOTE_LIMIT) -> str:
    """One line of printable text, at most ``limit`` characters."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_exercise_cells(path: Path) -> tuple:
    """``([(exercise_id, source)], notes)`` from the notebook at ``path``, in notebook order.

    ``nbformat`` reads the notebook, of any format version, as version 4; it is not
    validated against the schema, so a stray field does not cost a learner the
    grade. Raises :class:`NotANotebook` for an empty file, a file that is not JSON
    or JSON that nbformat cannot read as a notebook (the reason in the message).
    Unknown ids and cells tagged twice are reported in ``notes``.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotANotebook("file not found") from None
    except OSError as error:
        raise NotANotebook(f"cannot read the file ({error.strerror or error})") from None
    if not path.is_file():
        raise NotANotebook("not a file")
    if size == 0:
        raise NotANotebook("empty file (not a notebook)")
    if size > MAX_NOTEBOOK_MB * 2**20:
        raise NotANotebook(f"file larger than {MAX_NOTEBOOK_MB} MB (not a course notebook)")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotANotebook("not a notebook (the file is not UTF-8 text)") from None
    except OSError as error:
        raise NotANotebook(f"cannot read the file ({error.strerror or error})") from None
    cells = _notebook_cells(text)

    known = set(exercises())
    found: dict = {}
    notes: list = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        for exercise_id in exercise_ids(metadata.get("tags")):
            if exercise_id not in known:
                notes.append(f"unknown exercise id {_clean(exercise_id, 60)!r} ignored")
                continue
            if cell.get("cell_type", "code") != "code":
                notes.append(f"{exercise_id}: the tagged cell is not a code cell")
                continue
            source = cell.get("source", "")
            if not isinstance(source, str):
                source = ""
            if exercise_id in found:
                notes.append(f"{exercise_id}: tagged on more than one cell; the last one is graded")
                del found[exercise_id]
            found[exercise_id] = _without_magics(source)
    return list(found.items()), notes


def _notebook_cells(text: str) -> list:
    """The cells of the notebook ``text``, read by nbformat as format 4 (not validated)."""
    import nbformat

    try:
        notebook = nbformat.convert(nbformat.reader.reads(text), 4)
    except nbformat.reader.NotJSONError as error:
        cause = error.__cause__
        where = f" at line {cause.lineno}" if hasattr(cause, "lineno") else ""
        raise NotANotebook(f"not a notebook (invalid JSON{where})") from None
    except RecursionError:
        raise NotANotebook("not a notebook (invalid JSON: nested too deeply)") from None
    except (nbformat.NBFormatError, nbformat.ValidationError) as error:
        reason = getattr(error, "message", None) or str(error)
        raise NotANotebook(f"not a notebook (nbformat: {_clean(reason, 120)})") from None
    except Exception:  # noqa: BLE001 - JSON that is no notebook at all (a list, cells that are numbers, ...)
        raise NotANotebook("not a notebook (nbformat cannot read it)") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise NotANotebook("not a notebook (no list of cells)")
    return cells


def _without_magics(source: str) -> str:
    """IPython magics (``%timeit``, ``!ls``) as plain Python calls, so the cell still compiles."""
    if not re.search(r"^\s*[%!]", source, re.M):
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - no IPython, or a cell it cannot parse: the sandbox reports the error
        return source


# --------------------------------------------------------------------------- grading


class Grader:
    """Grades one notebook at a time; the cases and their expected values are computed once."""

    def __init__(self, limits: Limits, seed: int = 0, chapters=(), protect=()):
        self.sandbox = Sandbox(limits, protect=protect)
        self.seed = seed
        self.chapters = set(chapters)
        self._cases: dict = {}
        self._lock = threading.Lock()

    def cases(self, exercise_id: str) -> tuple:
        """``(cases, expected)``: public then hidden cases, and the reference's outputs for them."""
        from course.checking import expected_outputs

        with self._lock:
            if exercise_id not in self._cases:
                public = public_cases(exercise_id)
                hidden = hidden_cases(exercise_id, self.seed)
                expected = expected_outputs(exercise_id, public) + expected_outputs(
                    exercise_id, hidden, hidden=True
                )
                self._cases[exercise_id] = (public + hidden, expected)
            return self._cases[exercise_id]

    def grade(self, path: Path, label: str | None = None) -> Row:
        """The row of one submission; never raises for anything the submission does."""
        start = time.monotonic()
        row = Row(label or str(path))
        try:
            self._grade(path, row)
        except Exception as error:  # noqa: BLE001 - a grader bug must not cost the other rows
            row.notes.append(f"grader error: {type(error).__name__}: {error}")
            for exercise_id in row.scores:
                row.scores[exercise_id] = 0.0
        row.notes = [_clean(n) for n in row.notes]
        row.seconds = time.monotonic() - start
        return row

    def _grade(self, path: Path, row: Row) -> None:
        forced = [e for e in exercises() if e.split(".")[0] in self.chapters]
        try:
            found, notes = read_exercise_cells(path)
        except NotANotebook as problem:
            row.scores = dict.fromkeys(forced, 0.0)
            row.notes.append(str(problem))
            return
        row.notes += notes
        chapters = {exercise_id.split(".")[0] for exercise_id, _ in found} | self.chapters
        wanted = [e for e in exercises() if e.split(".")[0] in chapters]
        row.scores = dict.fromkeys(wanted, 0.0)
        if not found:
            row.notes.append("no exercise cells found (code cells tagged exercise:<id>)")
            return

        cells = [Cell(e, get_exercise(e).function_name, source) for e, source in found]
        cases = {e: self.cases(e) for e, _ in found}
        report = self.sandbox.run(
            cells, {e: [(c.args, c.kwargs) for c in cs] for e, (cs, _) in cases.items()}
        )
        row.notes += report.notes
        present = {e for e, _ in found}
        for exercise_id in wanted:
            if exercise_id not in present:
                row.notes.append(f"{exercise_id}: no cell tagged exercise:{exercise_id}")
                continue
            score, note = score_exercise(
                exercise_id, *cases[exercise_id], report.exercises.get(exercise_id)
            )
            row.scores[exercise_id] = score
            if note:
                row.notes.append(note)


def score_exercise(exercise_id: str, cases: list, expected: list, run) -> tuple:
    """``(points in [0, 1], note or None)``: the fraction of cases passed, judged here."""
    exercise = get_exercise(exercise_id)
    outcomes = []
    for index, case in enumerate(cases):
        if run is None:
            outcomes.append(CaseOutcome(case.name, False, "not run"))
        elif run.cell_error:
            outcomes.append(CaseOutcome(case.name, False, run.cell_error))
        elif index in run.results:
            status, output = run.results[index]
            try:
                outcomes.append(judge(exercise, case, expected[index], status, output))
            except Exception as error:  # noqa: BLE001 - an output compare() cannot handle
                outcomes.append(
                    CaseOutcome(
                        case.name,
                        False,
                        f"the output could not be compared ({type(error).__name__})",
                    )
                )
        else:
            outcomes.append(CaseOutcome(case.name, False, (run.failure or "no result came back")))
    passed = sum(o.passed for o in outcomes)
    score = passed / len(outcomes) if outcomes else 0.0
    extra = "; ".join(run.notes) if run is not None and run.notes else ""
    if passed == len(outcomes):
        return score, (f"{exercise_id}: {extra}" if extra else None)
    if run is not None and run.cell_error:
        note = f"{exercise_id}: {run.cell_error}"
    elif all(o.not_attempted for o in outcomes):
        note = f"{exercise_id}: not attempted"
    else:
        index, first = next((i, o) for i, o in enumerate(outcomes) if not o.passed)
        if run is not None and index not in run.results:
            note = f"{exercise_id}: {passed}/{len(outcomes)} cases; {first.message}"
        else:
            note = (
                f"{exercise_id}: {passed}/{len(outcomes)} cases; first failure "
                f"({first.case}): {first.message}"
            )
    if extra:
        note += f"; {extra}"
    return score, _clean(note)


# --------------------------------------------------------------------------- the gradebook


def _number(value: float) -> str:
    return f"{round(value, 3):g}"


def _cell_text(text: str) -> str:
    """Text a spreadsheet shows as text: a leading = + - @ would start a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def columns_for(rows: list, chapters=()) -> list:
    present = {e for row in rows for e in row.scores} | {
        e for e in exercises() if e.split(".")[0] in chapters
    }
    return [e for e in exercises() if e in present]


def gradebook_text(rows: list, chapters=()) -> str:
    columns = columns_for(rows, chapters)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(FIXED_COLUMNS) + columns + list(TAIL_COLUMNS))
    for row in rows:
        scores = [_number(row.scores[e]) if e in row.scores else "" for e in columns]
        writer.writerow(
            [_cell_text(_clean(row.submission, 1000))]
            + scores
            + [
                _number(row.total),
                _number(row.max_score),
                _cell_text(_clean(" | ".join(row.notes), 5000)),
            ]
        )
    return buffer.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half of
    one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- the command line


class Progress:
    """A progress bar on stderr (one line per submission when stderr is not a terminal)."""

    def __init__(self, total: int, stream=None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, row: Row) -> None:
        self.done += 1
        width = 24
        filled = int(width * self.done / max(1, self.total))
        bar = "█" * filled + "·" * (width - filled)
        name = _clean(row.submission, 40)
        line = (
            f"[{bar}] {self.done}/{self.total} {name}: "
            f"{_number(row.total)}/{_number(row.max_score)} ({row.seconds:.1f} s)"
        )
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def summary_table(rows: list) -> str:
    width = min(40, max([len("submission")] + [len(_clean(r.submission, 40)) for r in rows]))
    lines = [f"{'submission':<{width}}  {'score':>9}  notes"]
    for row in rows:
        score = f"{_number(row.total)}/{_number(row.max_score)}"
        notes = _clean(" | ".join(row.notes), 70)
        lines.append(f"{_clean(row.submission, 40):<{width}}  {score:>9}  {notes}")
    return "\n".join(lines)


def expand(arguments: list) -> list:
    """Submission paths: files as given, folders as the notebooks inside them (sorted)."""
    paths = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            if not found:
                print(f"warning: no .ipynb files in {argument}", file=sys.stderr)
            paths += found
        else:
            paths.append(path)
    return paths


def _chapter(text: str) -> str:
    number = text.lower().removeprefix("ch")
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"a chapter is a number like 1, 01 or ch01, got {text!r}")
    chapter = f"ch{int(number):02d}"
    if not any(e.startswith(chapter + ".") for e in exercises()):
        known = sorted({e.split(".")[0] for e in exercises()})
        raise argparse.ArgumentTypeError(
            f"chapter {chapter} has no exercises; known: {', '.join(known)}"
        )
    return chapter


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m course.grade",
        description="Grade learners' notebooks: run each one's exercise cells in a locked-in "
        "process, score "
        "every exercise on public and hidden cases, and write a CSV gradebook.",
        epilog="Each exercise is worth 1 point, shared equally among its cases. Exit status 0 "
        "when every "
        "submission got a row. See docs/TEACHERS.md.",
    )
    parser.add_argument(
        "submissions",
        nargs="+",
        metavar="SUBMISSION",
        help="notebooks to grade (.ipynb files, or folders of them)",
    )
    parser.add_argument("--out", required=True, type=Path, help="the CSV gradebook to write")
    parser.add_argument(
        "--timeout",
        type=float,
        default=Limits.timeout,
        metavar="SECONDS",
        help="wall-clock limit for a learner's process (default: %(default)g)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=Limits.memory_mb,
        metavar="MB",
        help="address-space limit of a learner's process (default: %(default)d; "
        "TensorFlow needs about 2500)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the hidden cases (default: %(default)d)"
    )
    parser.add_argument(
        "--chapter",
        action="append",
        type=_chapter,
        default=[],
        metavar="N",
        help="grade this chapter's exercises in every submission, even one with no exercise "
        "cells (repeatable)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="submissions graded at the same time (default: %(default)d)",
    )
    arguments = parser.parse_args(argv)
    if not arguments.timeout > 0:
        parser.error("--timeout must be positive")
    if arguments.memory_mb < 64:
        parser.error("--memory-mb must be at least 64")
    if arguments.jobs < 1:
        parser.error("--jobs must be at least 1")
    return arguments


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    if os.name != "posix":
        print("error: the grader runs on Linux or macOS (on Windows, use WSL 2)", file=sys.stderr)
        return 2
    paths = expand(arguments.submissions)
    try:
        first = exercises()[0]
        hidden_cases(first)
        from course.registry import reference

        reference(first)
    except ReferenceUnavailable as error:
        print(f"error: grading needs the instructor's repository ({error})", file=sys.stderr)
        return 2
    out = arguments.out
    protect = {str(out.resolve().parent)} | {str(p.resolve().parent) for p in paths}
    grader = Grader(
        Limits(arguments.timeout, arguments.memory_mb), arguments.seed, arguments.chapter, protect
    )
    become_subreaper()
    print(f"grading {len(paths)} submission(s); isolation: {isolation_summary()}", file=sys.stderr)

    rows: list = [None] * len(paths)
    progress = Progress(len(paths))

    def save() -> None:
        write_atomically(out, gradebook_text([r for r in rows if r is not None], arguments.chapter))

    pool = ThreadPoolExecutor(max_workers=arguments.jobs)
    try:
        save()
        futures = {pool.submit(grader.grade, path, str(path)): i for i, path in enumerate(paths)}
        pending = set(futures)
        while pending:
            # Wait in short slices: Ctrl-C may reach a worker thread instead of this one, and Python
            # raises KeyboardInterrupt here only when this thread next runs Python code.
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=futures.get):
                rows[futures[future]] = future.result()
                reap_orphans()
                save()
                progress.update(rows[futures[future]])
    except KeyboardInterrupt:
        stop_all()
        pool.shutdown(wait=False, cancel_futures=True)
        save()
        print(
            f"\ninterrupted: {sum(r is not None for r in rows)} row(s) saved in {out}",
            file=sys.stderr,
        )
        return 130
    except OSError as error:
        stop_all()
        pool.shutdown(wait=False, cancel_futures=True)
        print(f"error: cannot write the gradebook {out}: {error}", file=sys.stderr)
        return 1
    pool.shutdown()
    print(summary_table(rows))
    print(f"wrote {out} ({len(rows)} row(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
