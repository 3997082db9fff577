"""The per-profile recipe: tiny's settings pass through unchanged; a measured profile's are backed by its sweep."""

import pytest

from sftlib import ROOT
from sftlib.data import read_jsonl
from sftlib.evaluate import clearly_better
from sftlib.recipes import RECIPES, Recipe, qa_recipe

SWEEP = ROOT / "benchmarks" / "results" / "recipe_sweep_smollm2_world_h100.jsonl"  # birth dates
SWEEP_NOW = ROOT / "benchmarks" / "results" / "recipe_sweep_smollm2_world_h100_all_attributes.jsonl"
TINY_SWEEP = ROOT / "benchmarks" / "results" / "recipe_sweep_tiny_cpu_all_attributes.jsonl"


def test_tiny_keeps_the_lessons_numbers_exactly(monkeypatch):
    monkeypatch.delenv("SFT_PROFILE", raising=False)
    recipe = qa_recipe()
    assert recipe.profile == "tiny"
    for rate in (3e-5, 1e-4, 3e-4, 6e-4, 1e-3, 3e-3, 1e-2, 3e-2):
        assert recipe.lr(rate) == rate  # the same float: the committed outputs stay the same
    assert [recipe.steps(n) for n in (1, 30, 60, 150)] == [1, 30, 60, 150]


def test_scaled_profile_rescales_rates_and_steps():
    recipe = Recipe("x", lr_scale=1 / 3, step_scale=2.0)
    assert recipe.lr(3e-4) == pytest.approx(1e-4) and recipe.lr(3e-3) == pytest.approx(1e-3)
    assert [recipe.steps(n) for n in (30, 60, 150)] == [60, 120, 300]
    assert Recipe("y", step_scale=0.1).steps(3) == 1  # never zero steps


def test_unmeasured_profile_warns_and_keeps_tinys_settings(monkeypatch):
    monkeypatch.setenv("SFT_PROFILE", "qwen2.5-0.5b")
    with pytest.warns(UserWarning, match="qwen2.5-0.5b.*recipe_sweep"):
        recipe = qa_recipe()
    assert recipe.lr(3e-4) == 3e-4 and recipe.steps(150) == 150


def _sweep(path=SWEEP, profile: str = "smollm2-135m+world") -> dict[tuple[str, float, int], float]:
    return {(r["method"], r["lr"], r["steps"]): r["val_accuracy"] for r in read_jsonl(path)
            if r["profile"] == profile}


def test_tinys_own_rates_are_its_sweeps_best_on_the_current_questions():
    """The rates the lessons are written with lead tiny's sweep on all six attributes."""
    acc = _sweep(TINY_SWEEP, "tiny")
    for steps in (60, 150):
        for method, rate in (("full", 3e-4), ("lora", 3e-3)):
            rates = {lr for m, lr, s in acc if m == method and s == steps}
            assert len(rates) >= 4
            assert acc[method, rate, steps] == max(acc[method, lr, steps] for lr in rates)
    assert acc["base", 0.0, 0] == 0.0


def test_smollm2_world_recipe_is_what_its_sweep_measured():
    """The recipe's settings are the first sweep's best at the scaled steps; tiny's own would fail.

    That sweep's validation questions all asked for a birth date (``docs/gpu.md``)."""
    acc, recipe = _sweep(), RECIPES["smollm2-135m+world"]
    steps = recipe.steps(150)  # the lessons' longest QA run
    full, lora = round(recipe.lr(3e-4), 10), round(recipe.lr(3e-3), 10)
    full_rates = {lr for m, lr, s in acc if m == "full" and s == steps}
    lora_rates = {lr for m, lr, s in acc if m == "lora" and s == steps}
    assert full in full_rates and lora in lora_rates  # the recipe's settings were measured
    assert acc["lora", lora, steps] == max(acc["lora", lr, steps] for lr in lora_rates)
    assert acc["full", full, steps] >= max(acc["full", lr, steps] for lr in full_rates) - 0.01
    assert min(acc["full", full, steps], acc["lora", lora, steps]) > 0.5
    # tiny's own rates at the same steps: full fine-tuning collapses, LoRA learns less
    assert acc["full", 3e-4, steps] < 0.1 and acc["lora", 3e-3, steps] < acc["lora", lora, steps]
    assert acc["base", 0.0, 0] == 0.0  # the world model knows the facts but does not answer yet


def test_smollm2_world_recipe_holds_on_the_current_questions():
    """On the six-attribute questions the recipe's rates still lead SmolLM2's sweep at its steps."""
    acc, recipe = _sweep(SWEEP_NOW), RECIPES["smollm2-135m+world"]
    steps = recipe.steps(150)
    full, lora = round(recipe.lr(3e-4), 10), round(recipe.lr(3e-3), 10)
    for method, rate in (("full", full), ("lora", lora)):
        rates = {lr for m, lr, s in acc if m == method and s == steps}
        assert rate in rates and len(rates) >= 3
        assert acc[method, rate, steps] == max(acc[method, lr, steps] for lr in rates)
    questions = 150  # the sweep's validation questions
    assert clearly_better(acc["full", full, steps], acc["full", 3e-4, steps], questions)  # tiny's rate
    assert acc["base", 0.0, 0] == 0.0
