"""Binder builds the course from exactly ``binder/``'s files, and lesson 00 runs there.

Binder (repo2docker) makes a fresh environment for Python ``binder/runtime.txt``, runs
``pip install -r binder/requirements.txt`` (with dependency resolution, unlike ``make``, which
installs the lock with ``--no-deps``), then ``binder/postBuild``, and starts every process through
``binder/start``. This test does the same in a new virtual environment and runs lesson 00 in it
headless, with ``benchmarks/course_runtime.py``, which also reports the kernel's peak memory:
Binder gives a session about 2 GB, Jupyter's server included. It takes over a minute, most of it
pip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv

import pytest

from sftlib import ROOT

BINDER = ROOT / "binder"
LESSON_00_MIB = 1536  # Binder's ~2 GB less room for the Jupyter server; lesson 00 took 635 here


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, **kwargs)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.seconds(90)
def test_binder_files_build_an_environment_that_runs_lesson_00(tmp_path):
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}", (
        f"binder/runtime.txt asks for {runtime}; this test builds with Python "
        f"{sys.version_info.major}.{sys.version_info.minor}")
    env_dir = tmp_path / "binder-env"
    venv.create(env_dir, with_pip=True)
    python, bin_dir = env_dir / "bin" / "python", env_dir / "bin"
    # As repo2docker does: the lock with dependency resolution. PIP_RETRIES=0: an index that
    # cannot be reached (the torch CPU index, where only PyPI is) is passed over at once.
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PIP_RETRIES": "0",
           "VIRTUAL_ENV": str(env_dir)}
    env.pop("PYTHONPATH", None)
    try:
        # --no-compile: pip's bytecode for 2 GB of packages took 42 of its 87 s here; Python writes
        # it on first import instead, which is all that changes.
        _run([str(python), "-m", "pip", "install", "-q", "--no-compile", "-r",
              str(BINDER / "requirements.txt")], env=env, timeout=1200)
        _run([str(BINDER / "postBuild")], env=env, timeout=600)  # executable, as repo2docker runs it
        done = _run([str(BINDER / "start"), str(python), "benchmarks/course_runtime.py", "00_tour"],
                    env=env, timeout=900)
    finally:
        shutil.rmtree(env_dir, ignore_errors=True)  # about 2.2 GB
    found = re.search(r"00_tour: [\d.]+ min, peak memory ([\d,]+) MiB", done.stdout)
    assert found, done.stdout[-3000:]
    peak = int(found.group(1).replace(",", ""))
    assert peak < LESSON_00_MIB, f"lesson 00 peaked at {peak} MiB, too much for Binder's ~2 GB"
