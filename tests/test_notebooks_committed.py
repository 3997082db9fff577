"""The committed notebooks are what learners read on GitHub: outputs present, no errors, no bulk."""

import json

import pytest

from sftlib import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_notebook_is_committed_with_outputs_and_without_errors_or_widget_state(path):
    nb = json.loads(path.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert outputs, f"{path.name} has no outputs: execute it on the tiny profile before committing"
    assert not [o for o in outputs if o["output_type"] == "error"], f"{path.name} has an error output"
    assert "widgets" not in nb["metadata"], (
        f"{path.name} carries saved widget state (progress bars); remove metadata.widgets")


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


def test_every_lesson_has_one_solutions_notebook_and_every_solutions_notebook_a_lesson():
    lessons = [p.stem for p in NOTEBOOKS]
    assert [p.stem.removesuffix("_solutions") for p in SOLUTIONS] == lessons


def test_every_notebook_records_one_training_precision_for_its_outputs():
    # `make outputs` records it; `make test` masks the numbers of checked cells where it differs
    recorded = {p.name: json.loads(p.read_text())["metadata"].get("sft_course", {}).get("precision")
                for p in NOTEBOOKS + SOLUTIONS}
    assert len(set(recorded.values())) == 1 and None not in recorded.values(), recorded
