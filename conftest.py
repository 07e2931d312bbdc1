"""pytest's set-up for the whole repository, `make test` and `pytest --nbval chapters/...` alike.

- Quiet, reproducible TensorFlow in this process and every kernel or subprocess it starts
  (``course.environment.QUIET_ENV``; a value already set wins).
- nbval compares the chapters' committed outputs the way ``make test`` does
  (``tests/notebooks.py``): the sanitize rules of ``tests/nbval_sanitize.cfg`` without
  ``--nbval-sanitize-with`` on the command line; in a cell tagged ``machine-dependent``
  (``course/machine_outputs.py``) the rules of ``tests/nbval_machine.cfg`` after them, so that
  the numbers a machine chooses are masked and the words around them are still compared;
  stderr never compared (TensorFlow's notices differ by machine).
"""

import os
import re
from pathlib import Path

from course.environment import QUIET_ENV
from course.machine_outputs import MACHINE_TAG, sanitize_rules

ROOT = Path(__file__).resolve().parent
SANITIZE_FILE = ROOT / "tests" / "nbval_sanitize.cfg"
MACHINE_SANITIZE_FILE = ROOT / "tests" / "nbval_machine.cfg"

for _key, _value in QUIET_ENV.items():
    os.environ.setdefault(_key, _value)


def pytest_configure(config):
    if getattr(config.option, "nbval_sanitize_with", "absent") is None:
        config.option.nbval_sanitize_with = str(SANITIZE_FILE)
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to extend
        return
    if getattr(IPyNbCell.sanitize, "masks_machine_numbers", False):
        return
    original, machine_rules = IPyNbCell.sanitize, sanitize_rules(MACHINE_SANITIZE_FILE)

    def sanitize(self, text):
        text = original(self, text)
        if isinstance(text, str) and MACHINE_TAG in self.cell.get("metadata", {}).get("tags", []):
            for regex, replacement in machine_rules:
                text = re.sub(regex, replacement, text)
        return text

    sanitize.masks_machine_numbers = True
    IPyNbCell.sanitize = sanitize


def pytest_collection_modifyitems(config, items):
    for item in items:
        if type(item).__name__ != "IPyNbCell":
            continue
        item.add_marker("notebook")
        notebook = item.parent
        if "stderr" not in notebook.skip_compare:
            notebook.skip_compare = tuple(notebook.skip_compare) + ("stderr",)
