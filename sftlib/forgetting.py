"""Catastrophic forgetting: what a fine-tuned model still knows, and runs that trade learning for it.

The base model's knowledge is measured three ways (``knowledge``): sentence probes about people and
about countries, and perplexity on held-out pretraining-style text. Learning is the accuracy on the
new task. ``Experiment`` runs one configuration (optionally over several seeds) and keeps the
result in memory, so several notebook cells can share a run without training it twice.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.evaluate import chat_continuation, probe_accuracy, probe_hits
from sftlib.likelihood import perplexity
from sftlib.tasks import one_question_per_entity, people_probes
from sftlib.templates import without_added_bos
from sftlib.train import TrainConfig, train


@dataclass
class KnowledgeSet:
    """What the base model knew before SFT: probe records and held-out documents."""

    people: list[dict]
    countries: list[dict]
    texts: list[str]

    @classmethod
    def load(cls, people: int = 120, countries: int = 67, texts: int = 32) -> KnowledgeSet:
        """Evenly spaced subsets of ``data/probes`` and ``data/tiny/heldout.jsonl`` (sizes given).

        People and countries are probed once each, their attributes taken in turn
        (``one_question_per_entity``; for people, ``people_probes``), so every attribute is
        probed about equally often: the countries file lists each country's capital, continent,
        currency and language in that order, so every 4th row would be capitals only.

        Raises:
            ValueError: a size beyond the file's number of people, countries or texts.
        """
        def check(n: int, path, held: int, what: str) -> None:
            if not 0 <= n <= held:
                raise ValueError(f"KnowledgeSet.load: {n} {what} asked of {path}, which holds {held}")

        country_rows = read_jsonl(DATA_DIR / "probes" / "countries.jsonl")
        held = len({r["entity"] for r in country_rows})
        check(countries, DATA_DIR / "probes" / "countries.jsonl", held, "countries")
        docs = read_jsonl(DATA_DIR / "tiny" / "heldout.jsonl")
        check(texts, DATA_DIR / "tiny" / "heldout.jsonl", len(docs), "texts")
        return cls(people_probes(people) if people else [],
                   one_question_per_entity(country_rows, every=held // countries)[:countries] if countries else [],
                   [r["text"] for r in docs[:: max(1, len(docs) // texts)][:texts]] if texts else [])

    def known_by(self, model, tokenizer) -> KnowledgeSet:
        """Only the probes ``model`` answers right now (texts kept): what fine-tuning can take away.

        The tiny model knows nearly every probe, so little is dropped. A hub model knows the real
        countries' facts and none of the fictional people, and is then scored on what it knew.
        """
        def keep(probes: list[dict]) -> list[dict]:
            if not probes:
                return []
            return [p for p, hit in zip(probes, probe_hits(model, tokenizer, probes)) if hit]

        return KnowledgeSet(keep(self.people), keep(self.countries), self.texts)


def knowledge(model, tokenizer, known: KnowledgeSet) -> dict[str, float]:
    """``people`` and ``countries`` probe accuracy (0..1; NaN for an empty set) and held-out
    ``perplexity`` (>= 1)."""
    def accuracy(probes: list[dict]) -> float:
        return probe_accuracy(model, tokenizer, probes) if probes else float("nan")

    return {"people": accuracy(known.people), "countries": accuracy(known.countries),
            "perplexity": perplexity(model, tokenizer, known.texts)}


def as_text_pair(messages: list[dict], tokenizer) -> dict[str, str]:
    """A one-turn chat as a plain-text ``prompt``/``completion`` pair, as the chat template renders it.

    The prompt loses its leading BOS if the tokenizer adds one itself (``tiny``'s does; SmolLM2's
    BOS is ``<|im_start|>``, which it does not add, so it stays) and the completion its trailing
    EOS (TRL adds it again), so TRL trains exactly the tokens ``assistant_only_loss`` would. A
    ChatML template (SmolLM2's) ends the turn with ``<|im_end|>`` and a newline; the newline is
    dropped with the EOS, as the chat's loss mask does not train it either.
    Plain-text pairs can share a dataset with replayed documents (``with_replay``).
    """
    prompt, answer = chat_continuation(tokenizer, messages[:-1], messages[-1:])
    ended = answer.rstrip()
    if not ended.endswith(tokenizer.eos_token):
        raise ValueError("as_text_pair: the template does not end the answer in EOS "
                         f"{tokenizer.eos_token!r}; the conversation ends {(prompt + answer)[-40:]!r}")
    return {"prompt": without_added_bos(tokenizer, prompt),
            "completion": ended[: -len(tokenizer.eos_token)]}


def with_replay(pairs: list[dict[str, str]], documents: list[str], share: float,
                seed: int = 0) -> list[dict[str, str]]:
    """Mix pretraining-style ``documents`` into SFT ``pairs`` so they make ``share`` of the rows.

    Replayed documents have an empty prompt, so every token of theirs is trained (as in
    pretraining). Documents are drawn without replacement; raises if there are too few.
    """
    if not 0 <= share < 1:
        raise ValueError(f"with_replay: share must be in [0, 1), got {share}")
    needed = round(len(pairs) * share / (1 - share))
    if needed > len(documents):
        raise ValueError(f"with_replay: share {share} needs {needed} documents, got {len(documents)}")
    rng = random.Random(seed)
    rows = pairs + [{"prompt": "", "completion": d} for d in rng.sample(documents, needed)]
    rng.shuffle(rows)
    return rows


def pull_to_base_callback(strength: float):
    """A ``TrainerCallback`` that pulls trainable weights toward their values at the start.

    After each optimizer step every trainable weight moves by ``lr * strength * (w0 - w)``: weight
    decay toward the base model instead of toward zero (in the spirit of L2-SP, Li et al., 2018,
    arXiv:1802.01483). ``strength`` 0 changes nothing; larger values keep the model closer to base.
    """
    import torch
    from transformers import TrainerCallback

    class PullToBase(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.start = [(p, p.detach().clone()) for p in model.parameters() if p.requires_grad]

        def on_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
            lr = optimizer.param_groups[0]["lr"]
            with torch.no_grad():
                for param, start in self.start:
                    param.add_(start - param, alpha=lr * strength)

    return PullToBase()


@dataclass
class Experiment:
    """Train configurations on one task and score learning and knowledge, each run once per seed.

    Args:
        load: returns a fresh ``(model, tokenizer)`` for a config (a 4-bit one for QLoRA).
        train_data: the task's ``datasets.Dataset`` (or a callable ``seed -> Dataset``).
        learned: scores the task on a trained model, 0..1.
        known: the base model's knowledge to check.
        scores: more ``model -> float`` scores, added to each result under their names.
    """

    load: Callable
    train_data: object
    learned: Callable
    known: KnowledgeSet
    scores: dict[str, Callable] = field(default_factory=dict)
    results: dict = field(default_factory=dict)

    def run(self, config: TrainConfig, pull_to_base: float = 0.0) -> dict[str, float]:
        """Train ``config`` once (cached by its fields) and score it.

        ``pull_to_base`` > 0 adds ``pull_to_base_callback(pull_to_base)`` to the run.

        Returns:
            ``learned`` (task score), ``people``, ``countries``, ``perplexity`` (see ``knowledge``),
            one entry per ``scores``, ``train loss`` and ``seconds`` (training wall-clock time).
        """
        key = (repr(config), pull_to_base)
        if key not in self.results:
            model, tokenizer = self.load(config)
            data = self.train_data(config.seed) if callable(self.train_data) else self.train_data
            extra = [pull_to_base_callback(pull_to_base)] if pull_to_base else []
            result = train(config, model, tokenizer, data, extra_callbacks=extra)
            self.results[key] = {"learned": self.learned(result.model),
                                 **knowledge(result.model, tokenizer, self.known),
                                 **{name: score(result.model) for name, score in self.scores.items()},
                                 "train loss": result.final_loss, "seconds": result.seconds}
        return self.results[key]

    def over_seeds(self, config: TrainConfig, seeds: tuple[int, ...] = (0, 1),
                   pull_to_base: float = 0.0) -> dict[str, float]:
        """Mean of ``run`` over ``seeds``, plus ``<metric> min``/``max`` for ``learned``,
        ``people`` and ``countries``."""
        runs = [self.run(dataclasses.replace(config, seed=s), pull_to_base) for s in seeds]
        summary = {k: statistics.fmean(r[k] for r in runs) for k in runs[0]}
        for k in ("learned", "people", "countries"):
            summary[f"{k} min"] = min(r[k] for r in runs)
            summary[f"{k} max"] = max(r[k] for r in runs)
        return summary


def knowledge_tracker(tokenizer, known: KnowledgeSet, every: int):
    """A ``TrainerCallback`` that scores ``knowledge`` every ``every`` steps (and at step 0).

    Its ``history`` is a list of ``{"step", "people", "countries", "perplexity"}``.
    """
    from transformers import TrainerCallback

    class KnowledgeTracker(TrainerCallback):
        def __init__(self):
            self.history: list[dict] = []

        def _score(self, step: int, model) -> None:
            self.history.append({"step": step, **knowledge(model, tokenizer, known)})
            model.train()

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self._score(0, model)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % every == 0:
                self._score(state.global_step, model)

    return KnowledgeTracker()
