"""Calling a learner's function on one case: the one way, for `check` and for the grader.

:func:`course.check` calls the function in the learner's own kernel; the grader
calls it in its locked-in learner process (:mod:`course.sandbox_child`), which
may not import ``course`` and loads this file by its path. So this module
imports nothing but the standard library, and ships in both editions.
"""

import copy

NOT_IMPLEMENTED = "still raises NotImplementedError"


def describe_error(error: BaseException) -> str:
    """One line for what a learner's code raised: ``ValueError: <first line>``, ``called
    sys.exit(1)``."""
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})" if error.code is not None else "called sys.exit()"
    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}" + (f": {text[0][:300]}" if text else "")


def call_case(function, args, kwargs, catch=Exception) -> tuple:
    """Call ``function`` on deep copies of ``args`` and ``kwargs``; returns ``(status, output,
    raised)``.

    ``("ok", output, None)``; ``("not_attempted", message, NotImplementedError)``;
    ``("error", message, type of the exception)`` when it raises any other instance
    of ``catch`` (the type, not the exception: its traceback would keep the call's
    frames, and the memory they hold, alive). ``catch`` is ``Exception`` in a
    notebook, so that Ctrl-C still stops a call, and ``BaseException`` in the
    grader, where ``sys.exit`` is a failed case like any other. What ``catch``
    does not cover propagates.
    """
    args, kwargs = copy.deepcopy(tuple(args)), copy.deepcopy(dict(kwargs))
    try:
        output = function(*args, **kwargs)
    except NotImplementedError:
        return "not_attempted", NOT_IMPLEMENTED, NotImplementedError
    except catch as error:  # noqa: BLE001 - a learner's error is a failed case, not a crash
        message = describe_error(error)
        return (
            "error",
            (message if isinstance(error, SystemExit) else f"raised {message}"),
            type(error),
        )
    return "ok", output, None
