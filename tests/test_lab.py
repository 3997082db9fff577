"""`make lab`, the README's first command, starts JupyterLab and serves lesson 00.

It runs the Makefile's own recipe (set-up is already done when the suite runs), headless: no
browser, a free port, a known token. It failed as root (containers, cloud shells, CI) before the
recipe passed ``--allow-root`` there: Jupyter refuses root without it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from sftlib import ROOT

TOKEN = "sft-course-lab-test"
STARTS_WITHIN = 90  # seconds; the server started in about 2 here


def _server_url(process: subprocess.Popen, log: list[str]) -> str:
    """The base URL Jupyter prints once it serves (``http://127.0.0.1:PORT/``); raise if it exits."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    deadline = time.monotonic() + STARTS_WITHIN
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        log.append(line)
        found = re.search(r"(http://127\.0\.0\.1:\d+/)lab", line)
        if found:
            return found.group(1)
    raise AssertionError("make lab did not serve within "
                         f"{STARTS_WITHIN} s (exit code {process.poll()}):\n{''.join(log)[-3000:]}")


def _get(url: str) -> dict:
    """GET a Jupyter API URL as JSON; the port may open a moment after the URL is printed."""
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    for _ in range(30):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.URLError as err:
            if not isinstance(err.reason, ConnectionRefusedError):
                raise
            time.sleep(0.5)
    raise AssertionError(f"{url}: the server printed this address but refused connections for 15 s")


def test_make_lab_serves_lesson_00():
    flags = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=0 --IdentityProvider.token={TOKEN}"
    process = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_FLAGS={flags}"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)  # its own group: make + jupyter
    log: list[str] = []
    try:
        base = _server_url(process, log)
        folder = _get(base + "api/contents/notebooks")  # Jupyter serves the repository's root
        lessons = sorted(item["name"] for item in folder["content"] if item["type"] == "notebook")
        assert lessons == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
        assert _get(base + "api/contents/notebooks/00_tour.ipynb?content=0")["type"] == "notebook"
        # what lessons link to outside notebooks/ (../docs/scale_out.md) opens too
        assert _get(base + "api/contents/docs/scale_out.md?content=0")["name"] == "scale_out.md"
        kernels = _get(base + "api/kernelspecs")
        assert kernels["default"] == "python3" and "python3" in kernels["kernelspecs"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # Jupyter shuts down cleanly on SIGTERM
        process.wait(timeout=30)
