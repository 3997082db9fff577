"""The lessons' training settings on another profile: tiny's learning rates and steps, rescaled.

The lessons are written with ``tiny``'s settings (full fine-tuning at 3e-4, LoRA at 3e-3, 60 to
150 steps of the QA task), which are where ``tiny`` learns the task best. A real model that has
read the same world learns it at other settings: ``benchmarks/recipe_sweep.py`` found
SmolLM2-135M (``smollm2-135m+world``) best at a third of tiny's rates, and slower, so its recipe
also doubles the steps (``docs/gpu.md``). A lesson sets ``RECIPE = qa_recipe(PROFILE)`` and writes
``RECIPE.lr(3e-4)`` and ``RECIPE.steps(150)``: on ``tiny`` these are 3e-4 and 150 exactly, on a
measured profile its own values, so one setting (``SFT_PROFILE``) switches every lesson's
training to the settings measured for that model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from sftlib.models import profile_name


@dataclass(frozen=True)
class Recipe:
    """How one profile's QA settings relate to ``tiny``'s: a factor on rates and one on steps."""

    profile: str
    lr_scale: float = 1.0  # this profile's best rate / tiny's, at the scaled step count
    step_scale: float = 1.0  # optimizer steps this profile trains for each of tiny's
    source: str = "the lessons' own settings"

    def lr(self, tiny_lr: float) -> float:
        """The learning rate that plays the part of ``tiny_lr`` on this profile (tiny's unchanged)."""
        return tiny_lr * self.lr_scale  # x * 1.0 is x exactly: tiny's outputs stay the same

    def steps(self, tiny_steps: int) -> int:
        """The optimizer steps that play the part of ``tiny_steps`` (at least 1; tiny's unchanged)."""
        return max(1, round(tiny_steps * self.step_scale))


RECIPES: dict[str, Recipe] = {
    r.profile: r
    for r in [
        Recipe("tiny"),
        Recipe("smollm2-135m+world", lr_scale=1 / 3, step_scale=2.0,
               source="benchmarks/results/recipe_sweep_smollm2_world_h100_all_attributes.jsonl "
                      "(H100 at a T4's precision, the six-attribute questions): full fine-tuning "
                      "learned most at 1e-4 at 60, 150 and 300 steps (tiny: 3e-4), LoRA at 1e-3 "
                      "from 150 steps on (tiny: 3e-3); in 300 steps these reached 40 and 44 % "
                      "validation accuracy (tiny: 63 and 43 % in 150). The first sweep, on "
                      "birth-date questions (recipe_sweep_smollm2_world_h100.jsonl), chose them"),
    ]
}


def qa_recipe(profile: str | None = None) -> Recipe:
    """The recipe of ``profile`` (``None``: ``$SFT_PROFILE``, else ``tiny``).

    A profile nobody measured keeps tiny's settings, with a warning that says how to measure it.

    Example:
        >>> qa_recipe("smollm2-135m+world").lr(3e-4) < 3e-4
        True
    """
    name = profile_name(profile)
    if name in RECIPES:
        return RECIPES[name]
    warnings.warn(f"profile {name!r}: no measured recipe, so the lessons train it with tiny's "
                  "learning rates and steps; measure one with benchmarks/recipe_sweep.py and add "
                  "it to sftlib.recipes.RECIPES (docs/gpu.md)", stacklevel=2)
    return Recipe(name, source="none measured: tiny's settings")
