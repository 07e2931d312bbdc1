"""`make lab` really opens the course: a JupyterLab server on chapters/ that prints its URL."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from notebooks import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_lab_serves_the_chapters_and_prints_the_url():
    port = _free_port()
    process = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "lab",
            f"LAB_ARGS=--port={port} --ServerApp.port_retries=0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, url, seen = time.monotonic() + 120, None, []
        while time.monotonic() < deadline and url is None:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = re.search(rf"(http://127\.0\.0\.1:{port}/lab\?token=\w+)", line)
            url = match.group(1) if match else None
        assert url, "no URL printed:\n" + "".join(seen[-20:])
        token = url.split("token=")[1]
        # loopback, never a proxy
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        listing = b""
        for _ in range(60):  # the URL is printed as the server starts listening
            try:
                listing = direct.open(
                    f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=30
                ).read()
                break
            except OSError:
                time.sleep(0.5)
        assert b"01_logistic_regression_and_relu.ipynb" in listing
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
