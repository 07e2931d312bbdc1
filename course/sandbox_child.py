"""The grader's learner process: runs a submission's exercise cells and the cases' calls.

This file is not imported by the course. :mod:`course.sandbox` copies it, with
``course/serialize.py`` (values and the records that carry them) and
``course/calling.py`` (how a function is called on a case, as ``check`` does),
into a scratch directory and starts it as ``python -I -S course_grade_child.py``
with that directory as its whole world:

1. read ``config.json`` (written by the grader) and lock itself in: Landlock
   (Linux ≥ 5.13) allows reading only the Python installation and system
   directories, writing only the scratch directory, executing nothing, and
   signalling no process outside it; resource limits cap memory, CPU time and
   file sizes;
2. put only the interpreter's own library and site-packages on ``sys.path``
   (``-S`` skips ``.pth`` files, so an editable install of the course is not
   seen) and refuse to import ``course`` or ``solutions``;
3. import NumPy and ``math`` (TensorFlow and Keras only when a cell mentions
   them), then load ``job.npz`` (cells and case inputs, never expected values);
4. install an audit hook (the same file rules, no processes, no signals, no
   ``ctypes``) — a second fence where Landlock is missing;
5. run the cells in notebook order; after each exercise cell, call its function
   on every case and append each result, as a record, to the results file the
   grader opened and passed down as a file descriptor (it has no path the
   learner's code could open or delete; what it prints goes to a pipe the
   grader drains and caps).

The grader judges those results in its own process: nothing here decides a score.
"""

import json
import os
import sys

# --------------------------------------------------------------------------- lock-in


def _landlock(rules: list) -> str:
    """Restrict this process (and anything it starts) to ``rules``; returns what was done."""
    if not sys.platform.startswith("linux"):
        return "landlock: not Linux"
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    create, add_rule, restrict = 444, 445, 446  # the same numbers on every Linux architecture
    abi = syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return "landlock: not available in this kernel"

    execute, write_file, read_file, read_dir = 1 << 0, 1 << 1, 1 << 2, 1 << 3
    handled = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        handled |= 1 << 13  # refer
    if abi >= 3:
        handled |= 1 << 14  # truncate
    if abi >= 5:
        handled |= 1 << 15  # ioctl_dev
    file_rights = execute | write_file | read_file | (1 << 14) | (1 << 15)
    rights = {
        "ro": read_file | read_dir,  # no execute: the learner's code cannot start programs
        "rw": handled & ~execute,
        "dev": read_file | write_file | (1 << 14),
    }

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    net = 3 if abi >= 4 else 0  # no TCP bind or connect
    scoped = 3 if abi >= 6 else 0  # no signals or abstract sockets outside the sandbox
    attr = RulesetAttr(handled, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"landlock: create_ruleset failed ({os.strerror(ctypes.get_errno())})"
    for path, kind in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        allowed = rights[kind] & handled
        if not os.path.isdir(path):
            allowed &= file_rights
        beneath = PathBeneath(allowed, fd)
        syscall(
            add_rule,
            ctypes.c_int(ruleset),
            ctypes.c_int(1),
            ctypes.byref(beneath),
            ctypes.c_uint32(0),
        )
        os.close(fd)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required by restrict_self
        return "landlock: no_new_privs refused"
    if syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        return f"landlock: restrict_self failed ({os.strerror(ctypes.get_errno())})"
    os.close(ruleset)
    return f"landlock ABI {abi}"


def _limit_resources(limits: dict) -> None:
    import resource
    import signal

    megabyte = 1024 * 1024
    wanted = {
        "RLIMIT_AS": limits["memory_mb"] * megabyte,
        "RLIMIT_CPU": limits["cpu_seconds"],
        "RLIMIT_FSIZE": limits["file_mb"] * megabyte,
        "RLIMIT_CORE": 0,
    }
    for name, value in wanted.items():
        kind = getattr(resource, name, None)
        if kind is None:
            continue
        # SIGXCPU at the soft limit, SIGKILL one second later
        hard = value + 1 if name == "RLIMIT_CPU" else value
        try:
            resource.setrlimit(kind, (value, hard))
        except (ValueError, OSError):
            pass
    # Past the file-size cap a write fails with an error instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


class _CappedText:
    """A text stream to file descriptor ``fd`` that passes the first ``cap`` bytes and drops the
    rest."""

    def __init__(self, fd: int, cap: int):
        self._fd = fd
        self._cap = cap
        self.written = 0
        self.dropped = 0
        self.encoding = "utf-8"
        self.errors = "replace"

    def write(self, text) -> int:
        data = str(text).encode("utf-8", "replace")
        room = max(0, self._cap - self.written)
        sent = 0
        if room:
            try:
                sent = os.write(self._fd, data[:room])
            except OSError:
                sent = 0
        self.written += sent
        self.dropped += len(data) - sent
        return len(text) if isinstance(text, str) else len(data)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


class _BlockImports:
    """A meta-path finder that refuses the instructor's packages with a clear message."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(
                f"No module named {name!r} (not available to graded code)", name=name
            )
        return None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _audit_hook(rules: list, scratch: str):
    """Block processes, signals, ctypes and file access outside ``rules``, for code run after it."""
    readable = [os.path.realpath(path) for path, _ in rules]
    writable = [os.path.realpath(path) for path, kind in rules if kind in ("rw", "dev")]
    blocked = {
        "os.system",
        "os.exec",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "subprocess.Popen",
        "os.kill",
        "os.killpg",
        "pty.spawn",
        "resource.setrlimit",
        "resource.prlimit",
        "socket.connect",
        "socket.bind",
        "sys.remote_exec",
        "os.startfile",
        "webbrowser.open",
    }
    changes = {
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "shutil.rmtree",
        "shutil.move",
        "shutil.copyfile",
        "shutil.copytree",
        "os.chflags",
        "os.lchflags",
        "os.setxattr",
        "os.removexattr",
        "os.mkfifo",
        "os.mknod",
    }
    listing = {"os.listdir", "os.scandir", "glob.glob", "os.chdir"}
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    busy = []

    def resolve(path):
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return None
        return os.path.realpath(os.path.join(scratch, path) if not os.path.isabs(path) else path)

    def check(path, writing):
        real = resolve(path)
        if real is None:
            return
        allowed = writable if writing else readable
        if not any(_within(real, root) for root in allowed):
            what = "write to" if writing else "read"
            raise PermissionError(f"the grader's sandbox does not let graded code {what} {path!r}")

    def hook(event, args):
        if busy:
            return
        if event in blocked or event.startswith("ctypes."):
            raise PermissionError(f"{event} is not allowed in the grader's sandbox")
        if event not in changes and event not in listing and event != "open":
            return
        busy.append(1)
        try:
            if event == "open":
                path, mode, flags = (tuple(args) + (None, None, None))[:3]
                writing = bool(mode and any(c in str(mode) for c in "wax+")) or bool(
                    isinstance(flags, int) and flags & write_flags
                )
                check(path, writing)
            elif event in changes:
                for arg in args[:2]:
                    if isinstance(arg, (str, bytes, os.PathLike)):
                        check(os.fspath(arg), True)
            else:
                if args and isinstance(args[0], (str, bytes, os.PathLike)):
                    check(os.fspath(args[0]), False)
        finally:
            busy.pop()

    return hook


# --------------------------------------------------------------------------- running


class _Recorder:
    """Appends records (``serialize.frame`` of a serialised dict) to the grader's results
    descriptor."""

    def __init__(self, fd: int, serialize, record_limit: int):
        self.fd = fd
        self.serialize = serialize
        self.limit = record_limit

    def _write(self, record: dict) -> None:
        data = self.serialize.dumps(record)
        if len(data) > self.limit:
            record = {
                "event": "result",
                "index": record.get("index"),
                "case": record.get("case"),
                "status": "error",
                "output": f"returned {len(data) / 2**20:.1f} MB, more than the grader accepts",
            }
            data = self.serialize.dumps(record)
        frame = self.serialize.frame(data)
        try:
            while frame:
                frame = frame[os.write(self.fd, frame) :]
        except OSError:
            pass

    def event(self, name: str, **fields) -> None:
        self._write({"event": name, **fields})

    def result(self, exercise_index: int, case_index: int, status: str, output) -> None:
        record = {
            "event": "result",
            "index": exercise_index,
            "case": case_index,
            "status": status,
            "output": output,
        }
        try:
            self._write(record)
        except Exception as error:  # noqa: BLE001 - a value that cannot be stored is the learner's error
            record.update(
                status="error", output=f"returned a value that cannot be compared ({error})"
            )
            self._write(record)


def _plain(value, np, depth: int = 0):
    """The learner's output as tuples/lists/dicts of NumPy arrays and Python scalars (what serialize
    stores)."""
    if depth > 20:
        raise TypeError("the result is nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (tuple, list)):
        items = [_plain(v, np, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {str(k): _plain(v, np, depth + 1) for k, v in value.items()}
    if hasattr(value, "numpy") and callable(value.numpy):  # tf.Tensor, tf.Variable
        value = value.numpy()
    array = np.array(value)  # a copy, as a plain ndarray (subclasses dropped)
    if type(array) is not np.ndarray or array.dtype == object:
        raise TypeError(
            f"returned a {type(value).__name__}, which is not a number, an array or a tuple of them"
        )
    return array


def _run(job: dict, recorder: _Recorder, namespace: dict, np, calling) -> None:
    run = set(job["run"])
    define_only = set(job["define_only"])
    for cell in job["cells"]:
        exercise_id, name, source = cell["exercise"], cell["function"], cell["source"]
        if exercise_id not in run and exercise_id not in define_only:
            continue
        scoring = exercise_id in run
        if scoring:
            recorder.event("start", exercise=exercise_id)
        raised = None
        try:
            exec(compile(source, f"<cell exercise:{exercise_id}>", "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            raised = calling.describe_error(error)
        if not scoring:
            continue
        function = namespace.get(name)
        if not callable(function):
            if raised:
                message = f"the cell raised {raised}"
            elif name in namespace:
                message = f"{name} is a {type(function).__name__}, not a function"
            else:
                defined = [
                    k for k in namespace if k not in job["preset"] and not k.startswith("__")
                ]
                message = f"the cell does not define a function named {name}" + (
                    f" (it defines {', '.join(defined[:5])})" if defined else ""
                )
            recorder.event("cell_error", exercise=exercise_id, message=message)
            continue
        if raised:
            recorder.event(
                "note",
                exercise=exercise_id,
                message=f"the cell raised {raised} after defining {name}",
            )
        index = job["index"][exercise_id]
        exhausted = False
        for case_index, case in enumerate(job["cases"][exercise_id]):
            # BaseException: SystemExit and KeyboardInterrupt too are a failed case, not a crash.
            status, output, raised = calling.call_case(
                function, case["args"], case["kwargs"], catch=BaseException
            )
            exhausted = exhausted or (raised is not None and issubclass(raised, MemoryError))
            if status != "ok":
                recorder.result(index, case_index, status, output)
                continue
            try:
                output = _plain(output, np)
            except BaseException as error:  # noqa: BLE001
                recorder.result(
                    index, case_index, "error", calling.describe_error(error).split(": ", 1)[-1]
                )
                continue
            recorder.result(index, case_index, "ok", output)
        recorder.event("done", exercise=exercise_id)
        if exhausted:
            # Memory this exercise still holds (a global list, say) would fail the next exercise
            # too: leave now, and the grader runs the exercises not yet started in a fresh process.
            os._exit(0)


class _Stub:
    """Stands in for ``get_ipython()`` so that magics left in a cell do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    results_fd = int(config["results_fd"])
    streams = {
        "stdout": _CappedText(1, config["output_bytes"]),
        "stderr": _CappedText(2, config["output_bytes"]),
    }

    isolation = _landlock(config["rules"]) if config["landlock"] else "landlock: off"
    _limit_resources(config["limits"])
    # -I -S: the standard library only
    sys.path[:] = [p for p in sys.path if p] + list(config["site_paths"])
    sys.meta_path.insert(0, _BlockImports(config["blocked_modules"]))
    sys.dont_write_bytecode = True

    import importlib.util
    import math

    import numpy as np

    # a module the grader copied beside this file (``course`` itself is out of reach)
    def load(
        name,
    ):
        spec = importlib.util.spec_from_file_location(name, os.path.join(here, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    serialize, calling = load("course_grade_serialize"), load("course_grade_calling")
    job = serialize.load(os.path.join(here, "job.npz"))

    namespace = {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "np": np,
        "math": math,
        "check": lambda *args, **kwargs: None,
        "get_ipython": _Stub,
    }
    if job["tensorflow"]:
        # Only for a notebook that uses it: the learner's process starts without TensorFlow (seconds
        # and hundreds of MB saved for the exercises that are plain NumPy).
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
        import keras

        namespace.update(tf=tf, keras=keras)
    job["preset"] = set(namespace)
    job["index"] = {ex: i for i, ex in enumerate(job["order"])}

    recorder = _Recorder(results_fd, serialize, config["record_bytes"])
    sys.addaudithook(_audit_hook(config["rules"], here))
    sys.stdout, sys.stderr = streams["stdout"], streams["stderr"]
    sys.stdin = None
    recorder.event("ready", isolation=isolation)
    _run(job, recorder, namespace, np, calling)
    recorder.event("finished", dropped_output=streams["stdout"].dropped + streams["stderr"].dropped)
    os._exit(0)  # skip interpreter shutdown: threads the learner started are not waited for


if __name__ == "__main__":
    main()
