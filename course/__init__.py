"""The machinery every chapter shares.

- :func:`check` — instant feedback on an exercise (``course.check("ch01.sigmoid", sigmoid)``)
- :func:`exercises` — every exercise id, in chapter order
- :func:`reference` — the reference answer (instructor builds only)
- :func:`check_environment`, :func:`setup_notebook` — the first cell of every chapter

Importing ``course`` pins Keras to the TensorFlow backend. It never imports
``solutions`` at import time, so the student edition (which has none) works.
"""

from course.environment import pin_tensorflow_backend

pin_tensorflow_backend()

from course.checking import CheckResult, check  # noqa: E402
from course.environment import check_environment, setup_notebook  # noqa: E402
from course.registry import exercises, get_exercise, reference  # noqa: E402

__all__ = [
    "CheckResult",
    "check",
    "check_environment",
    "exercises",
    "get_exercise",
    "reference",
    "setup_notebook",
]
