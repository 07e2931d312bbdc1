"""Test-wide set-up: quiet, deterministic TensorFlow, and nbval that ignores stderr.

The environment variables are set here (before any kernel starts or TensorFlow
is imported) so notebooks run by nbval inherit them. TensorFlow writes oneDNN
and CUDA notices to stderr that change from machine to machine, so stderr is
never compared; stdout and results are.
"""

import os
import sys
from pathlib import Path

for key, value in {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KERAS_BACKEND": "tensorflow",
    "PYTHONHASHSEED": "0",
}.items():
    os.environ.setdefault(key, value)

sys.path.insert(0, str(Path(__file__).parent))

# tests/data holds learners' submissions, hostile ones included (they try to kill the grader's
# process group and delete repository files): nbval must never execute them as notebooks.
collect_ignore_glob = ["data/*"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        notebook = getattr(item, "parent", None)
        skip = getattr(notebook, "skip_compare", None)
        if skip is not None and "stderr" not in skip:
            notebook.skip_compare = tuple(skip) + ("stderr",)
        if type(item).__name__ == "IPyNbCell":
            item.add_marker("notebook")
