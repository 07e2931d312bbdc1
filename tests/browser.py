"""JupyterLab in headless Chromium for tests/test_browser.py: a lab server started as `make lab`
starts it, Chromium driven through Selenium (Debian's ``chromium`` and ``chromium-driver``; no
browser is ever downloaded), and the few JupyterLab 4 page actions a learner takes.

Both are context managers that leave nothing running, also when a step fails: the server is asked
to shut down (``/api/shutdown``), then its process group and every process it started (kernels
included) are ended; Chromium is quit, then whatever ChromeDriver started is ended. ``leftovers``
names any process that had to be killed or survived.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
RUN_VARIABLE = "COURSE_BROWSER_TEST"  # set by `make test-browser`: run the browser test
REQUIRE_VARIABLE = (
    "COURSE_REQUIRE_BROWSER"  # set by .ci/run: a missing browser is a failure, not a skip
)
HOW_TO_ENABLE = (
    "install Debian's chromium, chromium-driver and fonts-noto-color-emoji "
    "(apt-get install chromium chromium-driver fonts-noto-color-emoji), then `make test-browser`"
)
# Headless, and nothing that reaches for the network (the machine may have none): no background
# requests, component updates, sync or first-run pages; a fresh profile per run (user data dir).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    "--lang=en-US",
)
# What the learner's own Jupyter would not have: the tests' quiet TensorFlow (tests/conftest.py) and
# figure backend, and the caller's Jupyter and IPython folders (the test gives the lab its own).
NOT_A_LEARNERS = (
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS",
    "KERAS_BACKEND",
    "PYTHONHASHSEED",
    "MPLBACKEND",
    "PYTHONPATH",
    "JUPYTER_PATH",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_CONFIG_PATH",
    "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR",
    "JUPYTERLAB_SETTINGS_DIR",
    "JUPYTERLAB_WORKSPACES_DIR",
    "IPYTHONDIR",
)
# loopback: never through a proxy
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def missing_browser() -> str | None:
    """Why the browser test cannot run here, in one sentence; None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (make setup installs it)"
    if not chromium_binary():
        return "no Chromium found"
    if not shutil.which("chromedriver"):
        return "no ChromeDriver found"
    return None


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _end(processes: list, grace: float = 10.0) -> list:
    """Terminate, then kill, each process still alive; the descriptions of those that had to be
    killed or would not end."""
    alive = [p for p in processes if p.is_running()]
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(alive, timeout=grace)
    killed = []
    for process in alive:
        with contextlib.suppress(psutil.Error):
            killed.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
            process.kill()
    _, alive = psutil.wait_procs(alive, timeout=grace)
    return killed + [f"{p.pid} survived SIGKILL" for p in alive]


def _family(pid: int) -> list:
    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.Error:
        return []


# --------------------------------------------------------------------------- the lab server


@dataclass
class Lab:
    """A running JupyterLab: its address, token and server log."""

    port: int
    token: str
    log: Path
    root: Path  # the folder it serves
    process: subprocess.Popen = field(repr=False)
    leftovers: list = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}{'&' if '?' in path else '?'}token={self.token}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(
            self.url(path), method=method, data=b"" if method == "POST" else None
        )
        with _DIRECT.open(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_states(self) -> list:
        return [kernel["execution_state"] for kernel in self.api("/api/kernels")]

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(
            self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        )


def learner_environment(home: Path, **extra) -> dict:
    """The environment a learner's `make lab` runs in: this process's, less what only the tests set,
    with Jupyter's user folders (settings, workspaces, runtime files, kernels) under ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_LEARNERS}
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
    )
    env.update(extra)
    return env


def user_setting(home: Path, plugin: str, values: dict) -> None:
    """A JupyterLab user setting, as the Settings editor saves it (``@scope/package:plugin``)."""
    package, name = plugin.split(":")
    folder = home / "user-settings" / package
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.jupyterlab-settings").write_text(json.dumps(values), encoding="utf-8")


@contextlib.contextmanager
def lab_server(
    make_arguments: list, cwd: Path, env: dict, log: Path, root: Path, timeout: float = 120
):
    """``make <make_arguments> LAB_ARGS=…`` on a free loopback port with a fresh token, until it
    answers; shut down (all of it) on leaving, however the block ends."""
    port, token = free_port(), secrets.token_hex(24)
    lab_args = f"--port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", *make_arguments, f"LAB_ARGS={lab_args}"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    lab = Lab(port, token, log, root, process)
    family = _family(process.pid)
    try:
        deadline = time.monotonic() + timeout
        while True:
            family += [p for p in _family(process.pid) if p not in family]
            try:
                lab.api("/api/status")
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"`make lab` ended with {process.returncode}:\n{lab.log_tail()}"
                    ) from None
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the lab did not answer in {timeout:.0f} s:\n{lab.log_tail()}"
                    ) from None
                time.sleep(0.3)
        yield lab
    finally:
        family += [p for p in _family(process.pid) if p not in family]  # kernels, started since
        with contextlib.suppress(OSError):
            lab.api("/api/shutdown", method="POST")  # ends its kernels too
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        lab.leftovers = _end(family)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# --------------------------------------------------------------------------- Chromium


@contextlib.contextmanager
def chromium(profile: Path, log: Path):
    """A headless Chromium driven by Selenium through the system's ChromeDriver; quit on leaving,
    and every process it started ended. Yields ``(driver, leftovers)``: the list fills in on
    leaving."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium_binary()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=shutil.which("chromedriver"), log_output=str(log))
    driver = webdriver.Chrome(service=service, options=options)
    leftovers: list = []
    family = _family(service.process.pid)
    try:
        yield driver, leftovers
    finally:
        family += [p for p in _family(service.process.pid) if p not in family]
        with contextlib.suppress(Exception):
            driver.quit()
        leftovers += _end(family)


# ------------------------------------------------------------------------- a notebook in the page


SHIFT_ENTER = "shift+enter"
_PROMPT = re.compile(r"^\[(\d+)\]:$")

# Small scripts run in the page; each takes the notebook's cells in document order.
_CELLS = (
    "return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
    ".jp-Notebook .jp-Cell')]"
)
_PROMPTS = _CELLS + (
    ".map(c => { const p = c.querySelector('.jp-InputPrompt'); "
    "return p ? p.textContent.trim() : null; })"
)
_OUTPUTS = (
    "const cell = arguments[0]; return [...cell.querySelectorAll('.jp-OutputArea-output')]"
    ".map(o => [o.dataset.mimeType || '', o.textContent])"
)
_EDITOR_TEXT = (
    "return [...arguments[0].querySelectorAll('.cm-content .cm-line')].map(l => "
    "l.textContent).join('\\n')"
)
# A MutationObserver that marks a cell (data-course-ran) when its prompt turns to [*]: no polling
# can miss a cell that runs in a few milliseconds. _WATCH takes the cells to watch (their marks
# reset).
_WATCH = """
arguments[0].forEach(cell => delete cell.dataset.courseRan);
if (!window.courseObserver) {
  window.courseObserver = new MutationObserver(records => {
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const prompt = node && node.closest('.jp-InputPrompt');
      if (prompt && prompt.textContent.includes('*'))
        prompt.closest('.jp-Cell').dataset.courseRan = '1';
    }
  });
  window.courseObserver.observe(document.body,
                                {subtree: true, childList: true, characterData: true});
}
"""
_RAN = _CELLS + ".map(c => c.dataset.courseRan === '1')"
# Whether a character is drawn as a colour glyph (an emoji font) in the element's font, not as an
# empty box: draw it on a canvas and count strongly coloured pixels.
_COLOUR_GLYPH = """
const [element, character] = arguments;
const canvas = document.createElement('canvas'); canvas.width = canvas.height = 64;
const g = canvas.getContext('2d');
g.font = '48px ' + getComputedStyle(element).fontFamily;
g.textBaseline = 'top'; g.fillStyle = '#000';
g.fillText(character, 4, 4);
const d = g.getImageData(0, 0, 64, 64).data; let coloured = 0;
for (let i = 0; i < d.length; i += 4)
  if (d[i + 3] > 0
      && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) coloured++;
return coloured;
"""


class Page:
    """The learner's view of one notebook in JupyterLab: open it, run cells, type into an editor,
    look."""

    def __init__(self, driver, lab: Lab, shots: Path):
        self.driver, self.lab, self.shots = driver, lab, shots

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what: str, condition, timeout: float, every: float = 0.3):
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what}")
            time.sleep(every)

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    # ---------------------------------------------------------------- opening and reading

    def open(self, notebook: str, cells: int, timeout: float = 90) -> None:
        """Open ``notebook`` (relative to the lab's root) and wait until its ``cells`` cells are on
        the page and its kernel is idle."""
        self.driver.get(self.lab.url(f"/lab/tree/{notebook}"))
        self.wait(
            f"{notebook}: {cells} cells and an idle kernel",
            lambda: len(self.js(_CELLS)) == cells and self.lab.kernel_states() == ["idle"],
            timeout,
        )

    def cells(self) -> list:
        return self.js(_CELLS)

    def prompts(self) -> list:
        return self.js(_PROMPTS)

    def outputs(self, index: int) -> list:
        """``[(mime type, text)]`` of cell ``index``'s outputs as the page shows them."""
        return [tuple(o) for o in self.js(_OUTPUTS, self.cells()[index])]

    def output_text(self, index: int) -> str:
        return "".join(text for _, text in self.outputs(index))

    def editor_text(self, index: int) -> str:
        return self.js(_EDITOR_TEXT, self.cells()[index])

    def show(self, index: int) -> None:
        self.js("arguments[0].scrollIntoView({block: 'center'})", self.cells()[index])
        time.sleep(0.3)

    def colour_glyph_pixels(self, index: int, character: str) -> int:
        element = self.js(
            "return arguments[0].querySelector('.jp-OutputArea-output')", self.cells()[index]
        )
        return self.js(_COLOUR_GLYPH, element, character)

    # ---------------------------------------------------------------- acting

    def keys(self, *keys) -> None:
        """Press ``keys`` in turn: text, or "shift+enter", "select-all", "escape", "\\n" (Enter),
        "\\b"."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        actions = ActionChains(self.driver)
        for key in keys:
            if key == SHIFT_ENTER:
                actions.key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT)
            elif key == "select-all":
                actions.key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL)
            elif key in ("\n", "\b", "escape"):
                actions.send_keys(
                    {"\n": Keys.ENTER, "\b": Keys.BACKSPACE, "escape": Keys.ESCAPE}[key]
                )
            else:
                actions.send_keys(key)
        actions.perform()

    def menu(self, menu: str, item: str) -> None:
        """Click ``menu`` in the menu bar, then its ``item``, by the labels a learner reads."""
        from selenium.webdriver.common.by import By

        self.driver.find_element(
            By.XPATH,
            f"//div[contains(@class, 'lm-MenuBar-itemLabel') and normalize-space()='{menu}']",
        ).click()
        self.wait(
            f"the {menu} menu",
            lambda: self.driver.find_elements(
                By.XPATH,
                f"//li[contains(@class, 'lm-Menu-item')][.//div[normalize-space()='{item}']]",
            ),
            10,
        )[0].click()

    def watch(self, indexes) -> None:
        """From now on, mark each of these cells once its prompt shows ``[*]`` (queued or
        running)."""
        self.js(_WATCH, [self.cells()[i] for i in indexes])

    def wait_until_run(self, indexes, timeout: float) -> None:
        """Until each cell of ``indexes`` (watched before it was run) was queued and now shows its
        execution count, and the kernel is idle. (A committed notebook shows counts from the start,
        and a fresh kernel gives the same ones again: a changed count does not tell that a cell
        ran.)"""

        def done():
            prompts, ran = self.prompts(), self.js(_RAN)
            if not all(ran[i] and _PROMPT.match(prompts[i] or "") for i in indexes):
                return False
            return self.lab.kernel_states() == ["idle"]

        self.wait(f"cells {list(indexes)[:3]}… to run", done, timeout, every=0.5)

    def run_all(self, timeout: float) -> float:
        """Run → Run All Cells; the seconds until every code cell ran and the kernel is idle."""
        code = [
            i for i, cell in enumerate(self.cells()) if "jp-CodeCell" in cell.get_attribute("class")
        ]
        self.watch(code)
        start = time.monotonic()
        self.menu("Run", "Run All Cells")
        self.wait_until_run(code, timeout)
        return time.monotonic() - start

    def focus(self, index: int) -> None:
        """Click into cell ``index``'s editor (it becomes the active cell, in edit mode)."""
        from selenium.webdriver.common.by import By

        self.show(index)
        self.cells()[index].find_element(By.CSS_SELECTOR, ".cm-content").click()
        self.wait(
            f"cell {index}'s editor to take the keyboard",
            lambda: self.js(
                "return arguments[0].contains(document.activeElement)", self.cells()[index]
            ),
            10,
        )

    def edit(self, index: int, code: str) -> None:
        """Click into cell ``index``'s editor, select all, and type ``code`` as a learner would:
        each line without its indentation (the editor indents after ``:`` and keeps the
        indentation)."""
        self.focus(index)
        lines = code.strip("\n").splitlines()
        typed = ["select-all", "\b"]
        for number, line in enumerate(lines):
            typed.append(line.strip())
            if number < len(lines) - 1:
                typed.append("\n")
        self.keys(*typed)
        written = self.editor_text(index)
        assert written.rstrip() == code.strip("\n").rstrip(), (
            f"the editor holds\n{written}\ninstead of\n{code}"
        )

    def run_here(self, index: int, timeout: float) -> None:
        """Shift+Enter in cell ``index`` (which must be the active one); wait until it ran."""
        active = self.js(
            "return arguments[0].classList.contains('jp-mod-active')", self.cells()[index]
        )
        assert active, f"cell {index} is not the active cell"
        self.watch([index])
        self.keys(SHIFT_ENTER)
        self.wait_until_run([index], timeout)
