"""Minutes per notebook: run the course headless, as a learner's "Run all", and print a table.

Each notebook is executed in a fresh kernel from the ``notebooks/`` folder, offline, on the current
``SFT_PROFILE`` (default ``tiny``); the notebooks on disk are not changed. The table's minutes are
the numbers for the README's course map.

    python benchmarks/course_runtime.py                    # every notebook (about 14 minutes on 2 cores)
    python benchmarks/course_runtime.py 01_data_formatting  # only the named ones
    SFT_PROFILE=smollm2-135m+world python benchmarks/course_runtime.py --keep-going --save runs/ --jobs 5

``--keep-going`` runs every cell of a notebook even after one fails and lists the failed cells: on
another profile or machine, that is the list of the lessons' claims (their ``assert`` cells) that
did not hold there. ``--save`` keeps the executed notebooks, outputs included, in a folder;
``--in-place`` writes them back over the originals (``make outputs``: the committed outputs, made
on ``tiny`` with one torch thread and the run cache off, as ``make test`` checks them). Saved
notebooks carry no widget state: each progress bar becomes the line it ended as, and a bar that
closed itself (``leave=False``) is dropped, as it vanished on screen.
Each notebook's peak memory is the largest resident set of its kernel with the processes it
started (lesson 06 measures memory in a child process), sampled every 0.1 s: what a machine, or
Binder's limit of about 2 GB, must hold for that lesson beside the Jupyter server.
``--jobs N`` runs N notebooks at once, each kernel with ``OMP_NUM_THREADS`` = CPU threads / N
unless it is set: for a GPU machine with many cores, where one lesson leaves the card mostly idle.
Its minutes are then those of lessons sharing the machine, not the course map's.
``--deadline MIN`` stops every notebook once MIN minutes of wall clock have passed, at the cell
it is running, and reports how far each got: for a machine lent for a fixed time. With ``--save``
each notebook is also written after every cell, so a run killed from outside (a time limit, a lost
connection) still leaves the cells that ran.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import platform
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import psutil
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, CellTimeoutError, DeadKernelError

from sftlib import ROOT
from sftlib.colab import lesson_paths, stamped_text
from sftlib.models import numerics_fingerprint, training_precision

NOTEBOOKS = ROOT / "notebooks"


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def bar_line(model_id: str, state: dict) -> str | None:
    """The text a tqdm notebook bar (``model_id``, an HBox in ``state``) ended as.

    Returns ``""`` for a bar hidden when it closed (tqdm's ``leave=False``) and ``None`` when
    ``model_id`` is not a tqdm bar. The line has tqdm's text layout:
    ``name: 100%|██████████| 10/10 [00:01<00:00, ...]``.
    """
    model = lambda ref: state.get(ref.removeprefix("IPY_MODEL_"), {})
    box = state.get(model_id, {})
    if box.get("model_name") != "HBoxModel":
        return None
    parts = [model(child) for child in box["state"]["children"]]
    if [p.get("model_name") for p in parts] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    if model(box["state"].get("layout", "")).get("state", {}).get("visibility") == "hidden":
        return ""
    left, progress, right = (p["state"] for p in parts)
    share = progress.get("value", 0) / progress["max"] if progress.get("max") else 0
    filled = min(10, int(10 * share))
    text = f"{left.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|{right.get('value', '')}"
    return html.unescape(text).replace("\u2007", " ")  # tqdm pads with figure spaces in HTML


def settle_progress_bars(notebook) -> None:
    """Replace every progress-bar widget output of ``notebook`` by its last line; drop the state.

    A viewer without widgets (GitHub, the course website, nbval) would otherwise show each bar as
    it was when it appeared, ``0%``. Bars that hid themselves are removed, as on screen; any other
    widget keeps its text form.
    """
    state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).pop(WIDGET_VIEW, None)
            line = None if view is None else bar_line(view["model_id"], state)
            if line is None:
                kept.append(output)
            elif line:
                kept.append(nbformat.v4.new_output("stream", name="stderr", text=line + "\n"))
        if cell.cell_type == "code":
            cell.outputs = kept


class KernelPeakMemory:
    """The largest resident set (MiB) of a process and its descendants, sampled in a thread.

    ``pid`` returns the process to watch, or None until it exists (a kernel not yet started).
    Unlike ``sftlib.cost.PeakMemory``, which measures what a block of code adds in its own
    process, this reads another process (a notebook's kernel), with its children, in full.
    """

    def __init__(self, pid, every: float = 0.1) -> None:
        self.pid, self.every, self.peak_mb = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _resident_mb(self) -> float:
        pid = self.pid()
        if pid is None:
            return 0.0
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:  # the kernel has exited
            return 0.0
        total = 0
        for process in tree:
            try:
                total += process.memory_info().rss
            except psutil.Error:  # a child that has just exited
                pass
        return total / 2**20

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._resident_mb())
            self._stop.wait(self.every)

    def __enter__(self) -> KernelPeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _kernel_pid(client: NotebookClient) -> int | None:
    """The process id of ``client``'s kernel, or None before it has started."""
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    return getattr(process, "pid", None)


def _write_atomically(notebook, path: Path) -> None:
    """Write ``notebook`` to ``path`` through a temporary file, so a reader never sees half of it."""
    partial = path.with_name(path.name + ".partial")
    nbformat.write(notebook, partial)
    partial.replace(path)


def run_notebook(name: str, timeout: int = 1200, keep_going: bool = False,
                 save_to: Path | None = None, in_place: bool = False,
                 deadline: float | None = None) -> tuple[float, list[str], float]:
    """Execute ``notebooks/<name>.ipynb`` (or the notebook file ``name``) in a fresh kernel.

    Args:
        name: a lesson's name, or a path to any ``.ipynb`` file (run from its own folder).
        timeout: seconds one cell may take.
        keep_going: run every cell even after one fails, and report the failures.
        save_to: a folder to write the executed notebook to (also when a cell failed), progress
            bars settled (``settle_progress_bars``); it is also written after every cell, bars as
            they are, so a process killed from outside leaves the cells that ran.
        in_place: write the executed notebook over the original, progress bars settled and a
            lesson's Colab cell stamped (``sftlib.colab``) and the training precision and numerics
            recorded in its metadata (``sft_course.precision`` and ``.numerics``, see
            ``sftlib.models.training_precision`` and ``numerics_fingerprint``),
            when every cell ran without an error (otherwise the original is left as it was).
        deadline: a ``time.monotonic()`` time at which to stop, at the cell then running; the
            cells after it are not run, and the failures begin with a ``"stopped at the
            deadline ..."`` line naming that cell.

    Returns:
        Wall-clock seconds, the failed cells as ``"cell 12: AssertionError: ..."`` (empty unless
        ``keep_going`` or ``deadline`` stopped it), and the peak memory in MiB
        (``KernelPeakMemory`` of the kernel).

    Raises:
        nbclient.exceptions.CellExecutionError: a cell failed (naming it) and ``keep_going`` is off.
        nbclient.exceptions.CellTimeoutError, DeadKernelError: a cell ran past ``timeout``, or the
            kernel died (out of memory, say), with or without ``keep_going``.
    """
    path = Path(name) if name.endswith(".ipynb") and Path(name).exists() else \
        NOTEBOOKS / f"{name.removesuffix('.ipynb')}.ipynb"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb")))
        raise FileNotFoundError(f"no notebook {path.name}; the course has: {known}")
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:  # a saved notebook holds only what this run executed
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=keep_going,
                            resources={"metadata": {"path": str(path.parent)}})
    running = [None]  # the index of the cell being executed

    def started(cell_index: int, **_) -> None:
        running[0] = cell_index

    client.on_cell_execute = started
    if deadline is not None:  # a cell gets what is left, at least a second
        client.timeout_func = lambda cell: max(1, min(timeout, math.ceil(deadline - time.monotonic())))
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        client.on_cell_executed = lambda **_: _write_atomically(notebook, save_to / path.name)
    stopped, start = [], time.perf_counter()
    try:
        with KernelPeakMemory(lambda: _kernel_pid(client)) as memory:
            client.execute()
    except CellTimeoutError:
        if deadline is None or time.monotonic() < deadline:
            raise  # the cell's own timeout, not the deadline
        stopped = [f"stopped at the deadline in cell {running[0]} of {len(notebook.cells)}"]
    finally:
        seconds = time.perf_counter() - start
        if save_to is not None:
            settle_progress_bars(notebook)
            _write_atomically(notebook, save_to / path.name)
    failed = stopped + [f"cell {i}: {out.ename}: {out.evalue}".strip()[:300]
                        for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
                        and not (stopped and i == running[0])  # interrupted by the deadline
                        for out in cell.get("outputs", []) if out.output_type == "error"]
    if in_place and not failed:
        settle_progress_bars(notebook)
        # the numbers depend on it; `make test` compares them only where it is the same (conftest.py)
        notebook.metadata["sft_course"] = {"precision": training_precision(),
                                           "numerics": numerics_fingerprint()}
        nbformat.write(notebook, path)
        if path.resolve() in [p.resolve() for p in lesson_paths()]:
            path.write_text(stamped_text(path), encoding="utf-8")  # the Colab cell as committed
    return seconds, failed, memory.peak_mb


def attempt(name: str, keep_going: bool, save_to: Path | None, in_place: bool = False,
            deadline: float | None = None) -> tuple[float | None, list[str], float, str]:
    """``run_notebook`` that reports instead of raising: (seconds or None, failed cells, peak MiB,
    error)."""
    try:
        seconds, failures, peak_mb = run_notebook(name, keep_going=keep_going, save_to=save_to,
                                                  in_place=in_place, deadline=deadline)
    except (CellControlSignal, DeadKernelError) as err:  # a failed or timed-out cell, a dead kernel
        return None, [], float("nan"), f"({type(err).__name__})\n{str(err)[-2000:]}"
    return seconds, failures, peak_mb, ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names (default: all, in order)")
    parser.add_argument("--keep-going", action="store_true",
                        help="run every cell after a failure too, and list the failed cells")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write the executed notebooks here")
    parser.add_argument("--in-place", action="store_true",
                        help="write each notebook back over the original (tiny, 1 thread, no run "
                             "cache: the committed outputs); names may be paths, solutions too")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="notebooks run at once (default 1; the course map's minutes use 1)")
    parser.add_argument("--deadline", type=float, metavar="MIN",
                        help="stop every notebook after MIN minutes of wall clock, keeping what ran")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise SystemExit(f"--jobs {args.jobs}: run at least 1 notebook at a time")
    names = args.names or [p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg")
    if args.in_place:
        if args.save or args.keep_going:
            raise SystemExit("--in-place writes only notebooks that ran through: no --save, --keep-going")
        if os.environ.get("SFT_PROFILE", "tiny") != "tiny":
            raise SystemExit("--in-place: the committed outputs are the tiny profile's; unset SFT_PROFILE")
        # as `make test` checks them: one torch thread (the last digits differ with two), real runs
        os.environ.update(OMP_NUM_THREADS="1", SFT_RUN_CACHE="0")
        del os.environ["MPLBACKEND"]  # the kernel's own inline backend, so figures are kept
    if args.jobs > 1:  # kernels inherit it: N lessons must not each take every core
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.jobs)))
    rows, failed, failed_cells, start = [], [], {}, time.perf_counter()
    deadline = None if args.deadline is None else time.monotonic() + 60 * args.deadline
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each notebook has its own kernel
        results = pool.map(lambda name: attempt(name, args.keep_going, args.save, args.in_place,
                                                deadline), names)
        for name, (seconds, failures, peak_mb, error) in zip(names, results):
            if seconds is None:  # time the others, report this one and fail at the end
                failed.append(name)
                print(f"{name}: FAILED {error}", flush=True)
                continue
            late = failures and failures[0].startswith("stopped at the deadline")
            rows.append((name + " (stopped at the deadline)" * bool(late), seconds, peak_mb))
            print(f"{name}: {seconds / 60:.1f} min, peak memory {peak_mb:,.0f} MiB", flush=True)
            if failures:
                failed_cells[name] = len(failures)
                print("\n".join(f"  {name} {f}" for f in failures), flush=True)
    profile = os.environ.get("SFT_PROFILE", "tiny")
    gpu = torch.cuda.get_device_name() + ", " if torch.cuda.is_available() else ""
    at_once = f", {args.jobs} at once" if args.jobs > 1 else ""
    print(f"\n| notebook | minutes ({profile}, {gpu}{os.cpu_count()} CPU threads, {platform.machine()}, "
          f"trained in {training_precision()}{at_once}) | peak memory (MiB) |")  # float32: ~1.3x time
    print("|---|---|---|")
    for name, seconds, peak_mb in rows:
        print(f"| {name} | {seconds / 60:.1f} | {peak_mb:,.0f} |")
    print(f"| **total** | **{sum(row[1] for row in rows) / 60:.1f}** | "
          f"**{max((row[2] for row in rows), default=0):,.0f}** (the largest) |")
    if args.jobs > 1:
        print(f"wall clock, {args.jobs} at once: {(time.perf_counter() - start) / 60:.1f} min")
    problems = [f"stopped: {', '.join(failed)} (left out of the total)"] if failed else []
    if failed_cells:
        problems.append("cells that failed (listed above): "
                        + ", ".join(f"{name} {n}" for name, n in failed_cells.items()))
    if problems:
        raise SystemExit("; ".join(problems))


if __name__ == "__main__":
    main()
