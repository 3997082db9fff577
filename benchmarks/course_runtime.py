"""Minutes per notebook: run the course headless, as a learner's "Run all", and print a table.

Each notebook is executed in a fresh kernel from the ``notebooks/`` folder, offline, on the current
``SFT_PROFILE`` (default ``tiny``); the notebooks on disk are not changed. The table's minutes are
the numbers for the README's course map.

    python benchmarks/course_runtime.py                    # every notebook (about 19 minutes on 2 cores)
    python benchmarks/course_runtime.py 01_data_formatting  # only the named ones
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import nbformat
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from sftlib import ROOT

NOTEBOOKS = ROOT / "notebooks"


def run_notebook(name: str, timeout: int = 1200) -> float:
    """Execute ``notebooks/<name>.ipynb`` in a fresh kernel; return wall-clock seconds.

    Raises ``nbclient.exceptions.CellExecutionError`` (naming the cell) when a cell fails.
    """
    path = NOTEBOOKS / f"{name.removesuffix('.ipynb')}.ipynb"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb")))
        raise FileNotFoundError(f"no notebook {path.name}; the course has: {known}")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names (default: all, in order)")
    args = parser.parse_args(argv)
    names = args.names or [p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg")
    rows, failed = [], []
    for name in names:
        try:
            seconds = run_notebook(name)
        except CellExecutionError as err:  # time the others; report this one and fail at the end
            failed.append(name)
            print(f"{name}: FAILED\n{str(err)[-2000:]}", flush=True)
            continue
        rows.append((name, seconds))
        print(f"{name}: {seconds / 60:.1f} min", flush=True)
    profile = os.environ.get("SFT_PROFILE", "tiny")
    gpu = torch.cuda.get_device_name() + ", " if torch.cuda.is_available() else ""
    print(f"\n| notebook | minutes ({profile}, {gpu}{os.cpu_count()} CPU threads, {platform.machine()}) |")
    print("|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds / 60:.1f} |")
    print(f"| **total** | **{sum(s for _, s in rows) / 60:.1f}** |")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (left out of the total)")


if __name__ == "__main__":
    main()
