"""pytest set-up shared by the unit tests and the notebooks (nbval).

The committed notebook outputs were made in one training precision, recorded in each notebook's
metadata by ``make outputs`` (``sft_course.precision``, e.g. ``"cpu, bf16"``). A machine that
trains in another one (a CPU without bf16 instructions, a GPU) gives other numbers from the same
seeded runs: in lesson 07, 55 % validation accuracy where the committed bf16 run shows 82 %. There
nbval compares the checked cells (``# NBVAL_CHECK_OUTPUT``) with every number masked
(``tests/nbval_numbers.cfg``); each lesson's ``assert`` cells still check its claims.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).parent
NUMBERS_MASK = ROOT / "tests" / "nbval_numbers.cfg"


def notebook_precisions(paths: list[str]) -> dict[str, str | None]:
    """The recorded precision of each ``.ipynb`` file at or under ``paths`` (None: not recorded)."""
    found = {}
    for arg in paths:
        path = Path(arg.split("::")[0])
        files = sorted(path.rglob("*.ipynb")) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".ipynb" and file.is_file() and ".ipynb_checkpoints" not in file.parts:
                meta = json.loads(file.read_text(encoding="utf-8")).get("metadata", {})
                found[str(file)] = meta.get("sft_course", {}).get("precision")
    return found


def pytest_configure(config) -> None:
    config.sft_numbers_masked = None
    if getattr(config.option, "nbval_sanitize_with", "unset") is not None:
        return  # nbval is not loaded, or a sanitize file was given on the command line
    recorded = notebook_precisions(config.args)
    if not recorded:
        return
    from sftlib.models import training_precision

    here = training_precision()
    other = sorted({str(p) for p in recorded.values() if p != here})
    if other:
        config.option.nbval_sanitize_with = str(NUMBERS_MASK)
        config.sft_numbers_masked = f"outputs made in {', '.join(other)}, this machine trains in {here}"


def pytest_report_header(config) -> str | None:
    return f"notebooks: {masked_note(config)}" if config.sft_numbers_masked else None


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if config.sft_numbers_masked:  # also under -q, which hides the header (make test)
        terminalreporter.write_line(f"notebooks: {masked_note(config)}")


def masked_note(config) -> str:
    return f"checked cells were compared with their numbers masked ({config.sft_numbers_masked})"
