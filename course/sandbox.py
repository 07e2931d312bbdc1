"""Run a learner's exercise cells in a locked-in process and bring back what their functions
returned.

The grader (:mod:`course.grade`) gives :meth:`Sandbox.run` the source of a
submission's exercise cells and the inputs of every case. A fresh process,
``python -I -S`` in a scratch directory (see :mod:`course.sandbox_child`),
runs the cells and calls each function on the inputs; the outputs come back
as files written with :mod:`course.serialize` (never pickle) and are judged
by the grader in its own process, which never executes anything the learner
wrote. Expected values never enter the learner's process.

What keeps the learner's code in:

- a scratch working directory, deleted afterwards;
- ``sys.path`` holds only the standard library and site-packages (no ``.pth``
  files, so an editable install of the course is invisible), and ``course``
  and ``solutions`` refuse to import;
- Landlock, where the Linux kernel has it (5.13+): the process may read only the
  Python installation and system directories — never the repository, the
  ``solutions`` or ``course`` packages, the submissions or the gradebook —,
  write only its scratch directory, execute no program, and (kernel 6.12+)
  signal no process outside itself;
- an audit hook with the same rules (the only fence where Landlock is missing),
  which also refuses ``ctypes``, new processes and signals;
- resource limits (address space, CPU time, file size) and a wall-clock limit,
  after which the whole process group is killed with SIGKILL.

If the process dies part-way (a timeout, ``os._exit``, a crash), the exercise it
was on keeps the cases it finished, and a fresh process runs the exercises
that had not started, so one bad function costs only its own exercise.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from course import calling, serialize
from course.environment import QUIET_ENV

CHILD_SOURCE = Path(__file__).with_name("sandbox_child.py")
CHILD_NAME = "course_grade_child.py"
# The modules the learner's process loads by path (it may not import `course`): name there -> source
# here.
CHILD_MODULES = {
    "course_grade_serialize.py": Path(serialize.__file__),
    "course_grade_calling.py": Path(calling.__file__),
}
SYSTEM_DIRS = (
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/bin",
    "/sbin",
    "/etc",
    "/sys",
    "/opt",
    "/nix/store",
    "/System",
    "/Library",
    "/private/etc",
    "/private/var/db/timezone",
)
# Not all of /proc (other processes' environments) nor /dev: the learner's own /proc/self and what
# NumPy and TensorFlow read. "/proc/self" is resolved by the learner's process, so it means that
# process.
SPECIAL_RULES = (
    ("/proc/self", "ro"),
    ("/proc/cpuinfo", "ro"),
    ("/proc/meminfo", "ro"),
    ("/proc/stat", "ro"),
    ("/proc/sys", "ro"),
    ("/dev/null", "dev"),
    ("/dev/zero", "ro"),
    ("/dev/urandom", "ro"),
    ("/dev/random", "ro"),
)
BLOCKED_MODULES = ("course", "solutions")
STATUSES = ("ok", "error", "not_attempted")
MESSAGE_LIMIT = 500
RECORD_LIMIT = 4 * 2**20  # one case's output, serialised (course outputs are a few KB)
RESULTS_LIMIT = 256 * 2**20


@dataclass
class Limits:
    """Per learner process: wall-clock ``timeout`` (s), ``memory_mb`` of address space, output
    kept."""

    timeout: float = 60.0
    memory_mb: int = 4096
    output_kb: int = 256
    file_mb: int = 256

    def __post_init__(self):
        if not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout}")
        if not self.memory_mb >= 64:
            raise ValueError(f"memory_mb must be at least 64, got {self.memory_mb}")


@dataclass
class Cell:
    """One exercise cell of a submission: the function named ``function`` is graded."""

    exercise_id: str
    function: str
    source: str


@dataclass
class ExerciseRun:
    """What came back for one exercise: ``results[case index] = (status, output)``."""

    results: dict = field(default_factory=dict)
    cell_error: str | None = None
    failure: str | None = None  # why the cases without a result have none
    notes: list = field(default_factory=list)


@dataclass
class Report:
    exercises: dict
    notes: list
    launches: int
    seconds: float


# ------------------------------------------------------------- what the learner's process may see


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _real(path) -> str:
    return os.path.realpath(os.fspath(path))


def _unique(paths) -> list:
    seen, out = set(), []
    for path in paths:
        if path and os.path.exists(path):
            real = _real(path)
            if real not in seen:
                seen.add(real)
                out.append(real)
    return out


def site_paths() -> list:
    """The site-packages directories the learner's process imports NumPy and TensorFlow from."""
    candidates = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    paths = sysconfig.get_paths()
    candidates += [paths.get("purelib"), paths.get("platlib")]
    for package in ("numpy", "tensorflow", "keras"):
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            candidates += [os.path.dirname(p) for p in spec.submodule_search_locations]
    secret = secret_paths()
    return [p for p in _unique(candidates) if not any(_within(p, s) for s in secret)]


def secret_paths() -> list:
    """The instructor's packages: ``solutions`` (reference answers) and ``course`` (hidden
    cases)."""
    found = [Path(__file__).resolve().parent]
    spec = importlib.util.find_spec("solutions")
    if spec is not None:
        found += [Path(p) for p in (spec.submodule_search_locations or [])] or [
            Path(spec.origin).parent
        ]
    return _unique(found)


def repository_root() -> str | None:
    """The course repository when this is a checkout (its root holds ``course/`` next to a project
    file)."""
    root = Path(__file__).resolve().parent.parent
    if any((root / name).exists() for name in (".git", "pyproject.toml", "solutions")):
        return str(root)
    return None


def _carve(root: str, protected: list) -> list:
    """``root`` as readable directories and files, leaving out every protected path inside it."""
    inside = [p for p in protected if _within(p, root)]
    if not inside:
        return [root]
    if root in inside or not os.path.isdir(root):
        return []
    readable = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        real = _real(entry.path)
        if any(_within(real, p) for p in inside):
            continue
        readable += (
            _carve(entry.path, inside)
            if any(_within(p, entry.path) for p in inside)
            else [entry.path]
        )
    return readable


def filesystem_rules(scratch, protect=()) -> list:
    """``[(path, "ro" | "rw" | "dev")]``: what the learner's process may read and write.

    Read: system directories and the Python installation, minus the repository,
    the instructor's packages and ``protect`` (submissions, the gradebook), and
    of ``/proc`` only the process's own entry and CPU and memory facts.
    Write: only ``scratch`` (and ``/dev/null``).
    """
    protected = _unique(list(secret_paths()) + [repository_root()] + [str(p) for p in protect])
    roots = [d for d in SYSTEM_DIRS if os.path.isdir(d)]
    roots += [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(_real(sys.executable)),
    ]
    paths = sysconfig.get_paths()
    roots += [paths.get("stdlib"), paths.get("platstdlib")] + site_paths()
    rules = []
    for root in _unique(roots):
        if any(_within(root, r) for r, _ in rules):
            continue
        rules += [(path, "ro") for path in _carve(root, protected)]
    rules.append((_real(scratch), "rw"))
    rules += [(path, kind) for path, kind in SPECIAL_RULES if os.path.exists(path)]
    return rules


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0 where there is none)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return max(0, int(libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))))
    except (OSError, AttributeError):
        return 0


def isolation_summary() -> str:
    abi = landlock_abi()
    if os.environ.get("COURSE_GRADE_NO_LANDLOCK") == "1":
        abi = 0
    if abi:
        signals = (
            "" if abi >= 6 else " (signals not scoped before ABI 6: the audit hook blocks them)"
        )
        return f"Landlock ABI {abi}{signals}, audit hook, rlimits, wall-clock kill"
    return (
        "audit hook, rlimits, wall-clock kill — no Landlock on this system, so code that gets past "
        "the audit hook could read what your user can read: grade in a container (docs/TEACHERS.md)"
    )


# --------------------------------------------------------------------------- processes


def become_subreaper() -> bool:
    """Make orphaned descendants of the learner's process our children, so none is left behind
    (Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        # PR_SET_CHILD_SUBREAPER
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


_ACTIVE: set = set()
_ACTIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_all() -> None:
    """Kill every running sandbox and start no new one (the grader was interrupted)."""
    _STOPPING.set()
    # never wait long: each supervisor also kills its own on _STOPPING
    locked = _ACTIVE_LOCK.acquire(timeout=5)
    try:
        for pid in list(_ACTIVE):
            _kill_group(pid)
    finally:
        if locked:
            _ACTIVE_LOCK.release()


def reap_orphans() -> int:
    """Kill this process's children that are not a running sandbox; return how many.

    With :func:`become_subreaper`, a process that a learner's code started and
    detached (``setsid``) becomes our child when its parent dies, and ends here.
    Call it only from a process whose children are all sandboxes (the grader's command line).
    """
    try:
        import psutil
    except ImportError:
        return 0
    killed = 0
    with _ACTIVE_LOCK:  # held throughout: a sandbox starting meanwhile is registered before we look
        for child in psutil.Process().children(recursive=False):
            if child.pid in _ACTIVE:
                continue
            try:
                child.kill()
                child.wait(timeout=2)
                killed += 1
            except (psutil.Error, OSError):
                continue
    return killed


def _kill_strays(scratch: Path) -> None:
    """Kill every process still running from ``scratch`` (a fork that left the process group)."""
    try:
        import psutil
    except ImportError:
        return
    marker = str(scratch)
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in process.info["cmdline"] or ()):
                process.kill()
        except (psutil.Error, OSError):
            continue


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except Exception:  # noqa: BLE001 - no psutil, or the process is gone
        return 0.0


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        number = -returncode
        if number == getattr(signal, "SIGXCPU", None):
            return "used up its CPU time"
        if number == signal.SIGKILL:
            return "was killed (SIGKILL: out of memory?)"
        if number == signal.SIGSEGV:
            return "crashed (segmentation fault)"
        try:
            return f"was killed by {signal.Signals(number).name}"
        except ValueError:
            return f"was killed by signal {number}"
    return f"exited early with status {returncode} (sys.exit or os._exit in the learner's code?)"


class _Drain(threading.Thread):
    """Reads the learner's stdout and stderr (one pipe) to the end, keeping its head and tail."""

    def __init__(self, pipe, keep: int = 16384):
        super().__init__(daemon=True)
        self.pipe, self.keep = pipe, keep
        self.head, self.tail, self.total = b"", b"", 0

    def run(self) -> None:
        try:
            while True:
                chunk = (
                    self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536)
                )
                if not chunk:
                    break
                self.total += len(chunk)
                if len(self.head) < self.keep:
                    self.head += chunk[: self.keep - len(self.head)]
                self.tail = (self.tail + chunk)[-self.keep :]
        except (OSError, ValueError):
            pass

    def text(self) -> str:
        data = self.head if self.total <= self.keep else self.head + b"\n...\n" + self.tail
        return data.decode("utf-8", "replace")


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line or "error" in line:
            return line[:300]
    return lines[-1][:300] if lines else ""


# --------------------------------------------------------------------------- results


def _load_record(payload: bytes, limit: int):
    """One record the learner's process wrote, or None when it is not a well-formed one."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            if sum(info.file_size for info in archive.infolist()) > 4 * limit:
                return None
        value = serialize.loads(payload)
    except Exception:  # noqa: BLE001 - anything at all may have been written to the descriptor
        return None
    return value if isinstance(value, dict) and isinstance(value.get("event"), str) else None


def read_records(handle, record_limit: int, total_limit: int) -> list:
    """The records in the results file, in order, up to the first malformed frame (a record whose
    content is not one the grader wrote is skipped)."""
    handle.seek(0)
    payloads = serialize.unframe(handle.read(total_limit), record_limit)
    return [
        record for record in (_load_record(p, record_limit) for p in payloads) if record is not None
    ]


def _result(record: dict) -> tuple:
    status, output = record.get("status"), record.get("output")
    if status not in STATUSES:
        return "error", "the result is not one the grader wrote"
    if status != "ok":
        output = str(output)[:MESSAGE_LIMIT]
    return status, output


# --------------------------------------------------------------------------- the sandbox


class Sandbox:
    """Runs submissions under ``limits``; ``protect`` lists more paths the learner's code may not
    read."""

    def __init__(self, limits: Limits | None = None, protect=()):
        self.limits = limits or Limits()
        self.protect = [str(p) for p in protect]
        self.site_paths = site_paths()
        self.landlock = landlock_abi() > 0 and os.environ.get("COURSE_GRADE_NO_LANDLOCK") != "1"

    def run(self, cells: list, cases: dict) -> Report:
        """Run ``cells`` (notebook order) and call each graded function on ``cases[exercise_id]``.

        ``cases`` maps an exercise id to a list of ``(args, kwargs)``; cells of
        exercises not in ``cases`` are not run.
        """
        start = time.monotonic()
        graded = list(dict.fromkeys(c.exercise_id for c in cells if c.exercise_id in cases))
        runs = {exercise_id: ExerciseRun() for exercise_id in graded}
        notes: list = []
        pending, defined, launches = graded, [], 0
        while pending and not _STOPPING.is_set():
            launches += 1
            outcome = self._launch(cells, pending, defined, cases)
            events = outcome["events"]
            for exercise_id, results in outcome["results"].items():
                runs[exercise_id].results.update(results)
            for event in events:
                exercise_id = event.get("exercise")
                if exercise_id not in runs:
                    continue
                if event["event"] == "cell_error" and runs[exercise_id].cell_error is None:
                    runs[exercise_id].cell_error = str(event.get("message", ""))[:MESSAGE_LIMIT]
                elif event["event"] == "note":
                    runs[exercise_id].notes.append(str(event.get("message", ""))[:MESSAGE_LIMIT])
            notes += outcome["notes"]
            if outcome["finished"]:
                break
            started = [
                e["exercise"]
                for e in events
                if e["event"] == "start" and e.get("exercise") in pending
            ]
            errors = {e.get("exercise") for e in events if e["event"] == "cell_error"}
            closed = {e.get("exercise") for e in events if e["event"] == "done"} | errors
            culprit = next((x for x in reversed(started) if x not in closed), None)
            if not outcome["ready"] or not started:
                for exercise_id in pending:
                    runs[exercise_id].failure = outcome["reason"]
                break
            if culprit is not None:
                runs[culprit].failure = outcome["reason"]
            defined += [x for x in started if x != culprit and x not in errors]
            pending = [x for x in pending if x not in started]
        return Report(runs, list(dict.fromkeys(notes)), launches, time.monotonic() - start)

    # ...................................................................... one process

    def _job(self, cells, pending, defined, cases) -> dict:
        wanted = set(pending) | set(defined)
        sources = " ".join(c.source for c in cells if c.exercise_id in wanted)
        return {
            "cells": [
                {"exercise": c.exercise_id, "function": c.function, "source": c.source}
                for c in cells
                if c.exercise_id in wanted
            ],
            "run": list(pending),
            "define_only": list(defined),
            "order": list(pending),
            "cases": {
                x: [{"args": tuple(a), "kwargs": dict(k)} for a, k in cases[x]] for x in pending
            },
            "tensorflow": bool(re.search(r"\b(tf|keras|tensorflow)\b", sources)),
        }

    def _environment(self, scratch: Path) -> dict:
        env = {
            "PATH": os.defpath,
            "HOME": str(scratch / "work"),
            "TMPDIR": str(scratch / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            **QUIET_ENV,
            "KERAS_HOME": str(scratch / "work" / ".keras"),
            "MPLBACKEND": "Agg",
            "CUDA_VISIBLE_DEVICES": "",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
        }
        if sys.platform == "darwin" and "DYLD_LIBRARY_PATH" in os.environ:
            env["DYLD_LIBRARY_PATH"] = os.environ["DYLD_LIBRARY_PATH"]
        return env

    def _launch(self, cells, pending, defined, cases) -> dict:
        limits = self.limits
        scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
        # The results file has no name: the learner's code can write to the descriptor it inherits
        # (and so spoil its own results) but cannot open, replace or delete it.
        with tempfile.TemporaryFile() as results:
            try:
                for name in ("work", "tmp"):
                    (scratch / name).mkdir()
                shutil.copyfile(CHILD_SOURCE, scratch / CHILD_NAME)
                for name, source in CHILD_MODULES.items():
                    shutil.copyfile(source, scratch / name)
                config = {
                    "rules": filesystem_rules(scratch, self.protect),
                    "landlock": self.landlock,
                    "site_paths": self.site_paths,
                    "blocked_modules": list(BLOCKED_MODULES),
                    "output_bytes": limits.output_kb * 1024,
                    "results_fd": results.fileno(),
                    "record_bytes": RECORD_LIMIT,
                    "limits": {
                        "memory_mb": int(limits.memory_mb),
                        "cpu_seconds": int(limits.timeout * max(2, os.cpu_count() or 1)) + 5,
                        "file_mb": int(limits.file_mb),
                    },
                }
                (scratch / "config.json").write_text(json.dumps(config), encoding="utf-8")
                serialize.save(scratch / "job.npz", self._job(cells, pending, defined, cases))
                return self._supervise(scratch, results, pending, cases)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

    def _supervise(self, scratch: Path, results, pending, cases) -> dict:
        limits = self.limits
        reason = None
        with _ACTIVE_LOCK:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(scratch / CHILD_NAME)],
                cwd=scratch / "work",
                env=self._environment(scratch),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                pass_fds=(results.fileno(),),
            )
            _ACTIVE.add(process.pid)
        drain = _Drain(process.stdout)
        drain.start()
        try:
            deadline = time.monotonic() + limits.timeout
            pause = 0.01
            while True:
                try:
                    process.wait(timeout=pause)
                    break
                except subprocess.TimeoutExpired:
                    pause = min(0.2, pause * 2)
                if _STOPPING.is_set():
                    reason = "was stopped (the grader was interrupted)"
                elif time.monotonic() > deadline:
                    reason = f"timed out after {limits.timeout:g} s"
                elif _rss_mb(process.pid) > limits.memory_mb:
                    reason = f"used more than {limits.memory_mb} MB of memory"
                if reason:
                    _kill_group(process.pid)
                    process.wait()
                    break
        finally:
            _kill_group(process.pid)  # anything the learner's code left in its process group
            _kill_strays(scratch)
            if process.poll() is None:
                process.kill()
                process.wait()
            with _ACTIVE_LOCK:
                _ACTIVE.discard(process.pid)
            drain.join(timeout=2)  # a detached process holding the pipe open is killed above
            process.stdout.close()

        records = read_records(results, RECORD_LIMIT, RESULTS_LIMIT)
        events = [r for r in records if r["event"] != "result"]
        ready = any(e["event"] == "ready" for e in events)
        finished = any(e["event"] == "finished" for e in events) and reason is None
        if reason is None and not finished:
            reason = f"the learner's process {_describe_exit(process.returncode)}"
            if not ready:
                detail = _last_error_line(drain.text())
                if any(
                    sign in detail
                    for sign in ("MemoryError", "allocate", "Resource exhausted", "failed to map")
                ):
                    detail += f" (memory limit {limits.memory_mb} MB: raise --memory-mb)"
                reason = "the learner's process could not start" + (
                    f": {detail}" if detail else f" ({reason})"
                )
        elif reason is not None:
            reason = f"the learner's process {reason}"
        notes = []
        if drain.total > limits.output_kb * 1024 or any(
            e.get("dropped_output") for e in events if e["event"] == "finished"
        ):
            notes.append(
                f"printed more than {limits.output_kb} KB; the rest of the output was discarded"
            )

        found = {exercise_id: {} for exercise_id in pending}
        for record in records:
            index, case = record.get("index"), record.get("case")
            if (
                record["event"] != "result"
                or not isinstance(index, int)
                or not isinstance(case, int)
            ):
                continue
            if 0 <= index < len(pending) and 0 <= case < len(cases[pending[index]]):
                found[pending[index]].setdefault(case, _result(record))
        return {
            "events": [e for e in events if isinstance(e.get("exercise", ""), str)],
            "ready": ready,
            "finished": finished,
            "reason": reason,
            "results": found,
            "notes": notes,
        }
