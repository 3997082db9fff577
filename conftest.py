"""pytest set-up shared by the unit tests and the notebooks (nbval).

The committed notebook outputs were made in one training precision, recorded in each notebook's
metadata by ``make outputs`` (``sft_course.precision``, e.g. ``"cpu, bf16"``), with the numerics
fingerprint of the machine (``sft_course.numerics``, ``sftlib.models.numerics_fingerprint``). A
machine that trains in another precision (a CPU without bf16 instructions, a GPU) gives other
numbers from the same seeded runs: in lesson 07, 42 % validation accuracy in float32 where a bf16
run gave 63 %. So does one whose kernels sum in another order, in the same precision: on
2026-11-27 two bf16 CPUs gave lesson 03's model 59 and 56 % test accuracy. Where the
precision or the fingerprint differs from the recorded one, or no fingerprint is recorded, nbval
compares that notebook's checked cells (``# NBVAL_CHECK_OUTPUT``) with every number masked
(``tests/nbval_numbers.cfg``); each lesson's ``assert`` cells still check its claims. A notebook
made on this machine is compared number for number, whatever the others record.

Once collected (``pytest_collection_modifyitems``), the notebooks made elsewhere get that mask, and
the longest test files go first, so that the two workers of ``make test`` end together.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).parent
NUMBERS_MASK = ROOT / "tests" / "nbval_numbers.cfg"


def notebook_precisions(paths: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """The recorded precision and numerics fingerprint of each ``.ipynb`` file at or under ``paths``.

    Returns:
        ``{path: (precision, fingerprint)}``, None for what a notebook does not record.
    """
    found = {}
    for arg in paths:
        path = Path(arg.split("::")[0])
        files = sorted(path.rglob("*.ipynb")) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".ipynb" and file.is_file() and ".ipynb_checkpoints" not in file.parts:
                meta = json.loads(file.read_text(encoding="utf-8")).get("metadata", {})
                recorded = meta.get("sft_course", {})
                found[str(file)] = (recorded.get("precision"), recorded.get("numerics"))
    return found


def pytest_configure(config) -> None:
    config.sft_masked_notebooks = set()  # resolved paths whose checked cells are compared masked
    config.sft_numbers_masked = None
    if getattr(config.option, "nbval_sanitize_with", "unset") is not None:
        return  # nbval is not loaded, or a sanitize file was given on the command line
    recorded = notebook_precisions(config.args)
    if not recorded:
        return
    from sftlib.models import numerics_fingerprint, training_precision

    here = (training_precision(), numerics_fingerprint())
    other = {path: f"{p} (numerics {n or 'not recorded'})" for path, (p, n) in recorded.items() if (p, n) != here}
    if other:
        config.sft_masked_notebooks = {Path(path).resolve() for path in other}
        names = ", ".join(sorted(Path(path).stem for path in other))
        config.sft_numbers_masked = (f"in {len(other)} of {len(recorded)} notebooks, {names}: outputs made in "
                                     f"{', '.join(sorted(set(other.values())))}, this machine trains in "
                                     f"{here[0]} (numerics {here[1]})")


def pytest_report_header(config) -> str | None:
    return f"notebooks: {masked_note(config)}" if config.sft_numbers_masked else None


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if config.sft_numbers_masked:  # also under -q, which hides the header (make test)
        terminalreporter.write_line(f"notebooks: {masked_note(config)}")


def masked_note(config) -> str:
    return f"checked cells were compared with their numbers masked {config.sft_numbers_masked}"


def mask_numbers(config, items) -> None:
    """Give each notebook whose outputs were made elsewhere the numbers mask, and only those.

    nbval reads its sanitize file when it sets up a notebook (``get_sanitize_files``); a notebook
    made on this machine keeps none, so its checked cells are compared number for number.
    """
    for item in items:
        notebook = item.parent
        if hasattr(notebook, "get_sanitize_files") and Path(item.path).resolve() in config.sft_masked_notebooks:
            notebook.get_sanitize_files = lambda: [str(NUMBERS_MASK)]


def recorded_seconds(notebook: Path) -> float:
    """Seconds the cells of ``notebook`` took when its outputs were made (0 where none recorded).

    ``make outputs`` executes with the cells' timing kept in their metadata (``execution``:
    ``iopub.execute_input`` to ``shell.execute_reply``, ISO times).
    """
    total = 0.0
    for cell in json.loads(notebook.read_text(encoding="utf-8")).get("cells", []):
        times = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in times and "shell.execute_reply" in times:
            start, end = (datetime.fromisoformat(times[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            total += (end - start).total_seconds()
    return total


def pytest_collection_modifyitems(config, items) -> None:
    """Longest files first: ``make test`` hands whole files to two workers in this order.

    A notebook's cost is its recorded seconds, a test file's the sum of its tests' ``seconds``
    marks (none: 0). Started last, one long file keeps a worker busy while the other waits; so
    ``make test`` runs xdist with ``--dist loadfile --no-loadscope-reorder``, which keeps this
    order. Each file's own items keep theirs (a notebook's cells run in order). Then the
    notebooks made elsewhere get the numbers mask (``mask_numbers``).
    """
    cost: dict[Path, float] = {}
    first: dict[Path, int] = {}
    for index, item in enumerate(items):
        path = Path(item.path)
        if path not in cost:
            first[path] = index
            cost[path] = recorded_seconds(path) if path.suffix == ".ipynb" else 0.0
        mark = item.get_closest_marker("seconds")
        if mark:
            cost[path] += float(mark.args[0])
    items.sort(key=lambda item: (-cost[Path(item.path)], first[Path(item.path)]))
    mask_numbers(config, items)
