"""The learner's path in a real browser: `make lab`, chapter 1 run from the page, an answer typed
into the exercise cell, its check's verdict on the page; then the same in the student edition's own
lab.

Headless Chromium driven by Selenium (tests/browser.py), with Debian's ``chromium`` and
``chromium-driver``. It runs on its own, with `make test-browser` (about a minute and a half),
never inside `make test`: there it skips in one line. Without Chromium it skips with a line saying
how to enable it, except under CI (``COURSE_REQUIRE_BROWSER=1``, set by .ci/run), where that fails.
Each step's screenshot goes to build/browser/ (a failed step's too, named ``…-FAILED``); every
server, kernel and browser process it starts is ended, also when a step fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import time
import warnings
from pathlib import Path

import browser
import nbformat
import pytest
from browser import ROOT, Page, chromium, lab_server, learner_environment, user_setting

pytestmark = pytest.mark.slow  # never in `make test-fast`

REQUIRED = bool(os.environ.get(browser.REQUIRE_VARIABLE))
if not (os.environ.get(browser.RUN_VARIABLE) or REQUIRED):
    pytest.skip("the browser test runs on its own: make test-browser", allow_module_level=True)
MISSING = browser.missing_browser()
if MISSING and not REQUIRED:
    pytest.skip(f"{MISSING}: {browser.HOW_TO_ENABLE}", allow_module_level=True)

NOTEBOOK = "01_logistic_regression_and_relu.ipynb"
EXERCISE = "ch01.sigmoid"
SHOTS = ROOT / "build" / "browser"
RUN_ALL_SECONDS = 90  # chapter 1 runs in about 20 s through a kernel
# Typed into the exercise cell, line by line, as a learner would.
CORRECT = """
def sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
"""
OVERFLOWING = """
def sigmoid(z):
    return np.exp(z) / (1 + np.exp(z))
"""
PROBE = """
import course, importlib.util
print(course.__file__)
print("solutions:", importlib.util.find_spec("solutions"))
"""
# Each verdict says its outcome in words too, for a page without an emoji font (empty boxes there).
VERDICTS = {
    "⏳": rf"{re.escape(EXERCISE)}: not attempted yet",
    "✅": rf"{re.escape(EXERCISE)}: all (\d+) cases pass",
    "❌": rf"{re.escape(EXERCISE)}: (\d+)/(\d+) cases pass; first failure \(.+\).*\n\s*hint: \S",
}
timings: dict = {}


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def shots():
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    # a terminated run still shuts everything down
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        yield SHOTS
    finally:
        signal.signal(signal.SIGTERM, previous)
    (SHOTS / "timings.json").write_text(json.dumps(timings, indent=1) + "\n", encoding="utf-8")
    print(f"\nbrowser test: screenshots in {SHOTS.relative_to(ROOT)}/; seconds: {timings}")


@pytest.fixture(scope="module")
def driver(shots, tmp_path_factory):
    if MISSING:  # only under COURSE_REQUIRE_BROWSER=1 (CI): elsewhere the module skipped
        pytest.fail(f"{MISSING}, and {browser.REQUIRE_VARIABLE} is set: {browser.HOW_TO_ENABLE}")
    with chromium(tmp_path_factory.mktemp("chromium-profile"), shots / "chromedriver.log") as (
        driver,
        leftovers,
    ):
        yield driver
    assert not leftovers, f"browser processes that would not end: {leftovers}"


@contextlib.contextmanager
def step(page: Page, name: str):
    """A step of the learner's path, timed; a screenshot of the page if it fails."""
    start = time.monotonic()
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(f"{name}-FAILED")
        raise
    finally:
        timings[name] = round(time.monotonic() - start, 1)


def verdict(page: Page, index: int, emoji: str) -> re.Match:
    """Cell ``index`` shows the ``emoji`` verdict for the exercise, and its words say the same."""
    text = page.output_text(index)
    assert f"{emoji} {EXERCISE}" in text, f"no {emoji} verdict on the page:\n{text}"
    match = re.search(VERDICTS[emoji], text.replace(emoji, ""))
    assert match, f"the {emoji} verdict does not say so in words:\n{text}"
    colour = page.colour_glyph_pixels(index, emoji)
    if not colour:
        message = f"{emoji} is drawn as an empty box here (no emoji font): {browser.HOW_TO_ENABLE}"
        if REQUIRED:
            raise AssertionError(message)
        warnings.warn(message)
    return match


def exercise_cells(path: Path) -> tuple:
    """The notebook's cells, and the index of the exercise's cell (its check cell follows it)."""
    nb = nbformat.read(path, as_version=4)
    index = next(
        i for i, c in enumerate(nb.cells) if f"exercise:{EXERCISE}" in c.metadata.get("tags", [])
    )
    assert f'check("{EXERCISE}"' in nb.cells[index + 1].source
    return nb, index


def answer(page: Page, exercise: int, code: str, emoji: str, shot: str) -> re.Match:
    """Type ``code`` into the exercise cell, run it and its check cell with Shift+Enter; the
    verdict."""
    page.edit(exercise, code)
    page.run_here(exercise, timeout=30)
    page.run_here(exercise + 1, timeout=60)  # Shift+Enter moved to the check cell
    page.show(exercise + 1)
    page.screenshot(shot)
    return verdict(page, exercise + 1, emoji)


def typed_answers(page: Page, exercise: int, prefix: str) -> None:
    """Step 3: a correct answer gives ✅; the overflowing e^z/(1+e^z) gives ❌ with the hint."""
    with step(page, f"{prefix}-correct-answer"):
        passed = answer(page, exercise, CORRECT, "✅", f"{prefix}-correct-answer-passes")
        assert int(passed.group(1)) >= 3
    with step(page, f"{prefix}-wrong-answer"):
        failed = answer(
            page, exercise, OVERFLOWING, "❌", f"{prefix}-overflowing-answer-fails-with-hint"
        )
        assert int(failed.group(1)) < int(failed.group(2))
        assert "overflow" in page.output_text(exercise + 1)  # the hint names the cause


def test_make_lab_runs_chapter_1_and_checks_an_answer_typed_in_the_page(driver, shots, tmp_path):
    notebook = ROOT / "chapters" / NOTEBOOK
    saved = notebook.read_bytes()
    nb, exercise = exercise_cells(notebook)
    check_cells = [
        i + 1
        for i, c in enumerate(nb.cells)
        if any(t.startswith("exercise:") for t in c.metadata.get("tags", []))
    ]
    figures = sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    home = tmp_path / "home"
    # never save chapters/
    user_setting(home, "@jupyterlab/docmanager-extension:plugin", {"autosave": False})
    env = learner_environment(home)
    try:
        start = time.monotonic()
        with lab_server(["lab"], ROOT, env, shots / "lab.log", ROOT / "chapters") as lab:
            timings["1-make-lab-until-it-answers"] = round(time.monotonic() - start, 1)
            page = Page(driver, lab, shots)
            with step(page, "1-open-chapter-1"):
                page.open(NOTEBOOK, len(nb.cells))
                time.sleep(1)  # JupyterLab's notifications appear as it restores
                toasts = page.js(
                    "return [...document.querySelectorAll('.Toastify__toast')].map(t => "
                    "t.innerText)"
                )
                assert not toasts, f"a notification covers the notebook: {toasts}"
                page.screenshot("1-chapter-1-opened")

            with step(page, "2-run-all"):
                seconds = page.run_all(timeout=RUN_ALL_SECONDS)
                timings["2-run-all-cells"] = round(seconds, 1)
                outputs = [
                    (i, mime, text) for i in range(len(nb.cells)) for mime, text in page.outputs(i)
                ]
                errors = [
                    (i, text[:300])
                    for i, mime, text in outputs
                    if "Traceback" in text or re.search(r"^\w*(Error|Exception)\b", text, re.M)
                ]
                assert not errors, f"cells show errors: {errors}"
                stderr = [
                    (i, text[:300])
                    for i, mime, text in outputs
                    if mime == "application/vnd.jupyter.stderr"
                ]
                assert not stderr, f"cells show warnings or notices in red: {stderr}"
                images = page.js(
                    "return [...document.querySelectorAll('.jp-OutputArea-output img')]"
                    ".map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
                )
                assert images and len(images) == figures, (
                    f"{len(images)} figures on the page, {figures} committed"
                )
                assert all(
                    complete and width > 0 and height > 0 for complete, width, height in images
                ), images
                math = page.js("""
                    const rendered = [
                        ...document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')];
                    const raw = rendered.map(m => { const c = m.cloneNode(true);
                        c.querySelectorAll('mjx-container, code, pre, script')
                            .forEach(e => e.remove());
                        return c.textContent; })
                        .filter(t => /\\$[^$]*\\\\[a-zA-Z]+|\\\\(frac|sum|log)\\b/.test(t));
                    return [document.querySelectorAll('.jp-RenderedMarkdown mjx-container').length,
                            document.querySelectorAll('mjx-merror').length,
                            raw.map(t => t.slice(0, 200))];""")
                assert math[0] > 0 and not math[1] and not math[2], f"equations not typeset: {math}"
                for index in check_cells:
                    exercise_id = nb.cells[index - 1].metadata["tags"][0].split(":", 1)[1]
                    text = page.output_text(index)
                    assert f"⏳ {exercise_id}: not attempted yet" in text, f"cell {index}: {text!r}"
                figure = next(
                    i
                    for i, c in enumerate(nb.cells)
                    if any("image/png" in o.get("data", {}) for o in c.get("outputs", []))
                )
                page.show(figure)
                page.screenshot("2-ran-all-figure-and-equations")
                page.show(exercise + 1)
                page.screenshot("2-ran-all-not-attempted")
                verdict(page, exercise + 1, "⏳")

            typed_answers(page, exercise, "3")
        assert not lab.leftovers, f"processes that `make lab` left running: {lab.leftovers}"
    finally:  # autosave is off, and nothing here saves: the committed chapter stays as it was
        assert notebook.read_bytes() == saved, (
            f"chapters/{NOTEBOOK} changed while the browser had it open"
        )


def test_student_edition_lab_checks_an_answer_typed_in_the_page(driver, shots, tmp_path, edition):
    """Step 4: the edition's own `make lab` (its Makefile, this repository's installed packages), a
    kernel that sees the edition's `course` and no `solutions`, and the same typed answers."""
    from course.sandbox import site_paths

    nb, exercise = exercise_cells(edition / "chapters" / NOTEBOOK)
    home = tmp_path / "home"
    user_setting(home, "@jupyterlab/docmanager-extension:plugin", {"autosave": False})
    # A learner's Python sees the edition, installed, and nothing of this repository: the kernel
    # starts isolated (-I -S: no .pth files, so not this repository's editable install).
    kernel = home / "edition-share" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    bootstrap = (
        f"import sys; sys.path[:0] = [{str(edition)!r}]; sys.path += {site_paths()!r}; "
        "from ipykernel import kernelapp; kernelapp.launch_new_instance()"
    )
    (kernel / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-I", "-S", "-c", bootstrap, "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    env = learner_environment(home, JUPYTER_PATH=str(kernel.parent.parent))
    # The edition's Makefile, with this repository's virtual environment standing in for the one its
    # `make setup` would install (-o: take it as installed).
    make = ["lab", f"BIN={Path(sys.executable).parent}", "-o", ".venv/.installed"]
    start = time.monotonic()
    with lab_server(make, edition, env, shots / "edition-lab.log", edition / "chapters") as lab:
        timings["4-edition-make-lab-until-it-answers"] = round(time.monotonic() - start, 1)
        page = Page(driver, lab, shots)
        with step(page, "4-edition-open-and-probe"):
            page.open(NOTEBOOK, len(nb.cells))
            first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
            page.focus(first)  # the set-up cell: click in and run it
            page.run_here(first, timeout=60)
            assert page.outputs(first) and all(
                mime.endswith("stdout") for mime, _ in page.outputs(first)
            ), page.outputs(first)  # the environment's ✅, and no TensorFlow notices in red
            page.keys("escape", "b")  # command mode, then B: a new cell below the active one
            probe = first + 2
            page.wait("a new cell", lambda: len(page.cells()) == len(nb.cells) + 1, 10)
            page.edit(probe, PROBE)
            page.run_here(probe, timeout=30)
            page.screenshot("4-edition-course-from-the-edition-no-solutions")
            lines = page.output_text(probe).splitlines()
            assert Path(lines[0]).resolve().is_relative_to(edition.resolve()), lines
            assert lines[1] == "solutions: None", lines
        typed_answers(page, exercise + 1, "4-edition")
    assert not lab.leftovers, (
        f"processes that the edition's `make lab` left running: {lab.leftovers}"
    )
