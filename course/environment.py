"""Backend pinning, the environment check, and notebook set-up.

The course always runs Keras 3 on TensorFlow. Importing `course` sets
``KERAS_BACKEND=tensorflow`` before Keras is imported;
:func:`check_environment` says in one line what is wrong when it is not so.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as metadata
import os
import re
import sys
import tempfile

EXPECTED = {"tensorflow": "2.21", "keras": "3.15", "keras-hub": "0.32"}
# Quiet, reproducible TensorFlow for tests, headless runs and the processes the course starts (never
# forced on a learner's lab): no start-up notices, no oneDNN (its reordered float sums change the
# last digits), Keras on TensorFlow, a fixed hash seed. Tests import it; the Makefile's QUIET spells
# the same variables (tests/test_repository.py keeps the two in step).
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KERAS_BACKEND": "tensorflow",
    "PYTHONHASHSEED": "0",
}

# What TensorFlow writes to stderr as it starts (absl's first line, its C++ log lines, the oneDNN
# and CUDA notices): it differs between machines and teaches nothing, so set-up hides it and saved
# outputs drop it.
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+\.cc:\d+\]|"
    r"To enable the following instructions|oneDNN custom operations|.*cuda drivers|.*rebuild "
    r"TensorFlow)"
)


def quiet_environment(base=None, **extra) -> dict:
    """An environment for a subprocess: ``base`` (default: this process's), then :data:`QUIET_ENV`,
    then ``extra``."""
    return {**(os.environ if base is None else base), **QUIET_ENV, **extra}


def pin_tensorflow_backend() -> None:
    os.environ["KERAS_BACKEND"] = "tensorflow"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment_problems() -> list:
    """Every problem found with the installed TensorFlow/Keras, each as one sentence."""
    problems = []
    for package, wanted in EXPECTED.items():
        found = _version(package)
        if found is None:
            problems.append(
                f"{package} is not installed (the course needs {wanted}.x; run `make setup`)"
            )
        elif not (found == wanted or found.startswith(wanted + ".")):
            problems.append(
                f"{package} {found} is installed but the course needs {wanted}.x (run `make setup`)"
            )
    keras_version = _version("keras")
    if keras_version and not keras_version.startswith("3."):
        problems.append(f"Keras {keras_version} is Keras 2; the course needs Keras 3")
    if os.environ.get("TF_USE_LEGACY_KERAS", "0").lower() in ("1", "true", "yes"):
        problems.append(
            "TF_USE_LEGACY_KERAS is set, which makes tf.keras Keras 2 (tf_keras): unset it"
        )
    elif _version("tf-keras"):
        problems.append(
            f"tf_keras {_version('tf-keras')} (Keras 2) is installed; the course uses Keras 3 — "
            "uninstall it (`pip uninstall tf-keras`) so tf.keras cannot silently become Keras 2"
        )
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        backend = keras.backend.backend()
        if backend != "tensorflow":
            problems.append(
                f"Keras was imported with the {backend!r} backend before `course`; "
                "restart the kernel and import `course` first (the course runs on TensorFlow)"
            )
    return problems


def check_environment(verbose: bool = True) -> bool:
    """Print one line: the versions in use, or what is wrong. Returns True when all is well."""
    problems = environment_problems()
    if problems:
        line = "❌ environment: " + "; ".join(problems)
    else:
        versions = ", ".join(f"{p} {_version(p)}" for p in EXPECTED)
        line = f"✅ environment: {versions}, Keras backend: tensorflow"
    if verbose:
        print(line)
    return not problems


def setup_notebook(seed: int = 0, deterministic: bool = True) -> None:
    """What the first cell of every chapter does: check versions, quiet TensorFlow, seed everything,
    quiet plots.

    ``keras.utils.set_random_seed`` seeds Python, NumPy and TensorFlow; op
    determinism makes two runs on the same machine bit-identical (results on
    another CPU still differ in the last digits, which is why tests use bands).
    """
    check_environment()
    import warnings

    # keras_hub imports tqdm, which warns (with a file path) that ipywidgets are absent: harmless
    # here.
    warnings.filterwarnings("ignore", message="IProgress not found")
    # TensorFlow's C++ log lines ("E0000 … failed call to cuInit: … CUDA error", "NodeDef mentions
    # attribute …") reach the page as red stderr boxes that read as failures; they teach nothing.
    # A learner who sets TF_CPP_MIN_LOG_LEVEL keeps their own.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Imported here, not at the top: the log level above and the filter around the import must be
    # in place before TensorFlow starts, and ``import course`` stays quick for the grader and tools.
    with _tensorflow_start_up_notices_dropped():
        import keras
        import tensorflow as tf
    import matplotlib
    import numpy as np

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    np.set_printoptions(precision=4, suppress=True)
    matplotlib.rcParams.update(
        {"figure.dpi": 72, "figure.figsize": (6, 3.5), "axes.grid": True, "grid.alpha": 0.3}
    )


@contextlib.contextmanager
def _tensorflow_start_up_notices_dropped():
    """Importing TensorFlow writes notices to file descriptor 2 before any setting can silence them
    ("All log messages before absl::InitializeLog()", oneDNN, "Could not find cuda drivers");
    Jupyter shows them under the first cell. Catch what the import writes there and pass on every
    other line (the notices are the ones ``course.notebooks`` drops from saved outputs)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no file descriptor 2 to catch
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not TF_NOISE.match(line)]
            if "".join(kept).strip():
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
