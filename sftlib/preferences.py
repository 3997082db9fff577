"""Preference tuning after SFT: chosen/rejected pairs from the course's QA task, DPO and ORPO runs
with TRL, and preference accuracy (how often the model finds the chosen answer likelier).

A preference pair is the record shape TRL's ``DPOTrainer`` takes, in its conversational form:
``{"prompt": [user message], "chosen": [assistant message], "rejected": [assistant message]}``;
the chat template renders it at training time, as it renders SFT's ``messages``.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sftlib.schemas import DataFormatError
from sftlib.runner import TrainResult, quiet_datasets, release_model, run_trainer
from sftlib.train import trainer_settings

PREFERENCE_METHODS = ("dpo", "orpo")
PAIR_FIELDS = ("prompt", "chosen", "rejected")


def pair(question: str, chosen: str, rejected: str) -> dict:
    """One conversational preference pair: a user ``question``, a ``chosen`` and a ``rejected`` answer."""
    return {"prompt": [{"role": "user", "content": question}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}]}


def preference_pairs(records: Sequence[Mapping], seed: int = 0,
                     pool: Sequence[Mapping] | None = None) -> list[dict]:
    """Pairs from QA records: the true answer is chosen, another person's value is rejected.

    The rejected answer is a plausible wrong one: the ``completion`` of a record in ``pool`` with
    the same ``attribute`` (a birth city for a birth city) and a different value, drawn with
    ``random.Random(seed)``, so the same records and seed give the same pairs.

    Args:
        records: dicts with ``prompt`` (a question), ``completion`` (its answer), ``attribute``.
        seed: seeds the choice of wrong answers.
        pool: where wrong answers are drawn from; default ``records`` themselves.

    Returns:
        One ``pair`` per record, in order.

    Raises:
        DataFormatError: a record lacks a field (index and field named), or no other value of
            its attribute exists in ``pool``.

    Example:
        >>> preference_pairs([{"prompt": "Where was A born?", "completion": "Lima", "attribute": "city"},
        ...                   {"prompt": "Where was B born?", "completion": "Oslo", "attribute": "city"}]
        ...                  )[0]["rejected"]
        [{'role': 'assistant', 'content': 'Oslo'}]
    """
    pool = records if pool is None else pool
    values: dict[str, list[str]] = {}
    for n, record in enumerate([*records, *pool]):
        for key in ("prompt", "completion", "attribute"):
            if not isinstance(record.get(key), str) or not record[key].strip():
                where = n if n < len(records) else n - len(records)
                what = "record" if n < len(records) else "pool record"
                raise DataFormatError(f"{what} needs a non-empty string {key!r}", field=key,
                                      index=where)
        if n >= len(records) and record["completion"] not in values.setdefault(record["attribute"], []):
            values[record["attribute"]].append(record["completion"])
    rng = random.Random(seed)
    pairs = []
    for n, record in enumerate(records):
        others = [v for v in values.get(record["attribute"], [])
                  if v.strip() != record["completion"].strip()]
        if not others:
            raise DataFormatError(f"no other value of {record['attribute']!r} in the pool to reject",
                                  field="attribute", index=n)
        pairs.append(pair(record["prompt"], record["completion"], rng.choice(others)))
    return pairs


def mistake_pairs(model, tokenizer, records: Sequence[Mapping], max_new_tokens: int = 16) -> list[dict]:
    """Pairs from the model's own mistakes: its wrong greedy answer rejected, the truth chosen.

    Args:
        model, tokenizer: a chat model (an SFT model) and its tokenizer.
        records: dicts with ``prompt`` and ``completion`` (the right answer).
        max_new_tokens: longest answer generated, tokens.

    Returns:
        One ``pair`` per record the model answered wrong (not starting with the right answer),
        non-empty answers only; records it answered right give no pair.
    """
    from sftlib.evaluate import ask, expected_answers

    truths = expected_answers(records, "prompt", "completion", "mistake_pairs")
    answers = ask(model, tokenizer, [r["prompt"] for r in records], max_new_tokens=max_new_tokens)
    return [pair(r["prompt"], r["completion"], a.text.strip()) for r, a, truth in zip(records, answers, truths)
            if a.text.strip() and not a.text.strip().startswith(truth)]


def _text_of(value, field_name: str, role: str | None) -> str:
    """The text of a standard (string) or conversational field; DataFormatError(field) if malformed."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and value and all(isinstance(m, Mapping) for m in value):
        if role and (len(value) != 1 or value[0].get("role") != role):
            raise DataFormatError(f"must hold exactly one {role!r} message", field=field_name)
        for i, message in enumerate(value):
            if message.get("role") not in ("user", "assistant", "system"):
                raise DataFormatError(f"unknown role {message.get('role')!r}", field=f"{field_name}[{i}].role")
            if not isinstance(message.get("content"), str):
                raise DataFormatError("content must be a string", field=f"{field_name}[{i}].content")
        text = value[-1]["content"]
    else:
        raise DataFormatError("must be a string or a non-empty list of messages", field=field_name)
    if not text.strip():
        raise DataFormatError("is empty", field=field_name)
    return text


def validate_pairs(pairs: Sequence[Mapping]) -> list[Mapping]:
    """Check preference pairs before training; return them unchanged.

    Each pair needs ``prompt``, ``chosen`` and ``rejected``, all strings (standard form) or all
    message lists (conversational form: the prompt ends with a user turn, chosen and rejected are
    one assistant message each), with non-empty text, and chosen different from rejected. All
    pairs take the same form.

    Raises:
        DataFormatError: the first problem, with the pair's ``index`` and the ``field``
            (e.g. ``"rejected"``), as in ``"array index 3, field 'rejected': is empty"``.
    """
    if not pairs:
        raise DataFormatError("no preference pairs given")
    first_form = None  # strings or messages: one form for every pair (BOS is added by form)
    for n, example in enumerate(pairs):
        if not isinstance(example, Mapping):
            raise DataFormatError(f"a pair must be an object, got {type(example).__name__}", index=n)
        for key in PAIR_FIELDS:
            if key not in example:
                raise DataFormatError("missing required field", field=key, index=n)
        try:
            forms = {key: isinstance(example[key], str) for key in PAIR_FIELDS}
            if len(set(forms.values())) > 1:
                raise DataFormatError("mixes strings and message lists; use one form for all three",
                                      field=", ".join(k for k, s in forms.items() if s))
            texts = {key: _text_of(example[key], key, None if key == "prompt" else "assistant")
                     for key in PAIR_FIELDS}
            if not forms["prompt"] and example["prompt"][-1].get("role") != "user":
                raise DataFormatError("the conversation must end with a user turn", field="prompt")
        except DataFormatError as err:
            raise DataFormatError(err.problem, field=err.field, index=n) from None
        form = "strings" if forms["prompt"] else "message lists"
        if first_form is None:
            first_form = form
        elif form != first_form:
            raise DataFormatError(f"this pair is in {form} but pair 0 in {first_form}; use one form "
                                  "for all pairs", field="prompt", index=n)
        if texts["chosen"].strip() == texts["rejected"].strip():
            raise DataFormatError("chosen and rejected are the same answer", field="rejected", index=n)
    return list(pairs)


def preference_margins(model, tokenizer, pairs: Sequence[Mapping], batch_size: int = 32) -> list[float]:
    """Per pair, ``log p(chosen | prompt) - log p(rejected | prompt)`` under ``model``, in nats.

    Conversational pairs are rendered with the tokenizer's chat template (the prompt with its
    generation prompt as context, the rest of the rendered conversation, EOS included, as the
    answer), the text DPO trains on. Log-probabilities are summed over the answer's tokens, as in
    DPO's loss, so a shorter answer starts with an advantage.

    Returns:
        One float per pair; > 0 when the chosen answer is the likelier one.
    """
    from sftlib.evaluate import chat_continuation
    from sftlib.likelihood import continuation_logprobs

    pairs = validate_pairs(pairs)
    contexts, answers = [], []
    for example in pairs:
        for key in ("chosen", "rejected"):
            if isinstance(example["prompt"], str):
                context, answer = example["prompt"], example[key]
            else:
                context, answer = chat_continuation(tokenizer, example["prompt"], example[key])
            contexts.append(context)
            answers.append(answer)
    conversational = not isinstance(pairs[0]["prompt"], str)
    scores = continuation_logprobs(model, tokenizer, contexts, answers, batch_size,
                                   add_special_tokens=not conversational)
    return [chosen[0] - rejected[0] for chosen, rejected in zip(scores[::2], scores[1::2])]


def preference_accuracy(model, tokenizer, pairs: Sequence[Mapping], batch_size: int = 32) -> float:
    """Share of pairs (in [0, 1]) whose chosen answer ``model`` finds likelier than the rejected one.

    Example:
        >>> preference_accuracy(model, tokenizer, preference_pairs(val_questions))  # doctest: +SKIP
        0.83
    """
    margins = preference_margins(model, tokenizer, pairs, batch_size)
    return sum(m > 0 for m in margins) / len(margins)


@dataclass
class PreferenceConfig:
    """Method and hyperparameters of one preference run (names follow TRL's configs and ``TrainConfig``)."""

    method: str = field(default="dpo", metadata={"help": "dpo (on top of an SFT model) or orpo"})
    beta: float = field(default=0.1, metadata={
        "help": "dpo: strength of the pull to the reference model (higher: stay closer); "
                "orpo: weight of the odds-ratio term next to the SFT loss (the paper's lambda)"})
    sft_weight: float = field(default=0.0, metadata={
        "help": "dpo: weight of an SFT (negative log-likelihood) term on the chosen answers next to "
                "DPO's loss (TRL's loss_type ['sigmoid', 'sft'], as in RPO); 0: plain DPO"})
    lr: float = field(default=5e-5, metadata={"help": "peak learning rate"})
    max_steps: int = field(default=50, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=8, metadata={"help": "pairs per device per forward pass"})
    grad_accum_steps: int = field(default=1, metadata={"help": "forward passes per optimizer step"})
    max_length: int | None = field(default=256, metadata={"help": "longest prompt + answer, tokens"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "share of steps with linear warmup"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    lr_scheduler_type: str = "linear"
    eval_steps: int | None = field(default=None, metadata={"help": "evaluate every N steps"})
    logging_steps: int = 10
    seed: int = 0
    bf16: bool | None = field(default=None, metadata={"help": "None: use bf16 where supported"})
    output_dir: str | None = field(default=None, metadata={"help": "None: a temporary folder"})
    progress_bar: bool = field(default=True, metadata={"help": "show the trainer's progress bar"})

    def __post_init__(self) -> None:
        if self.method not in PREFERENCE_METHODS:
            raise ValueError(f"PreferenceConfig.method={self.method!r}; choose one of {PREFERENCE_METHODS}")
        if self.sft_weight and self.method != "dpo":
            raise ValueError("PreferenceConfig.sft_weight is for dpo; orpo has its SFT term built in")
        if self.beta <= 0:
            raise ValueError(f"PreferenceConfig.beta={self.beta}; it must be > 0")


def train_preferences(config: PreferenceConfig, model, tokenizer, train_dataset,
                      eval_dataset=None) -> TrainResult:
    """Preference-tune ``model`` with TRL's ``DPOTrainer`` or ORPO trainer; return a ``TrainResult``.

    DPO's reference model is a frozen copy of ``model`` as it is now (the SFT model). TRL, given
    no reference, would reload the checkpoint ``model`` was loaded from (the base model, not
    the SFT weights in memory), so the copy is made here. ORPO needs no reference.

    Args:
        config: the method and hyperparameters; the CPU-safe settings come from
            ``sftlib.train.trainer_settings``, as for SFT.
        model: a causal LM, updated in place (for DPO, an SFT model; for ORPO, a base model).
        tokenizer: its tokenizer.
        train_dataset, eval_dataset: ``datasets.Dataset`` with ``prompt``/``chosen``/``rejected``
            (see ``preference_pairs``; checked with ``validate_pairs``).

    Returns:
        ``TrainResult``: the trainer (``result.model``), ``log_history`` with TRL's metrics
        (``rewards/accuracies``, ``rewards/margins``; ORPO adds ``nll_loss``), wall-clock seconds
        and the peak memory training added (for DPO the reference copy is made before measuring).

    Example:
        >>> result = train_preferences(PreferenceConfig(max_steps=20), sft_model, tokenizer,
        ...                            Dataset.from_list(pairs))  # doctest: +SKIP
        >>> result.log_history[-1]["train_loss"] < 0.693
        True
    """
    from transformers import set_seed

    for dataset in (train_dataset, eval_dataset):
        if dataset is not None:
            validate_pairs(dataset.to_list())  # every pair: a bad one past the first would train
    set_seed(config.seed)
    settings = trainer_settings(config, model.device)
    data = dict(train_dataset=train_dataset, eval_dataset=eval_dataset, processing_class=tokenizer)
    with quiet_datasets():
        if config.method == "dpo":
            from trl import DPOConfig, DPOTrainer

            reference = copy.deepcopy(model).eval().requires_grad_(False)
            losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, config.sft_weight]} \
                if config.sft_weight else {}
            args = DPOConfig(**settings, beta=config.beta, include_num_input_tokens_seen="non_padding",
                             **losses)
            trainer = DPOTrainer(model=model, ref_model=reference, args=args, **data)
        else:
            os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # ORPO lives in trl.experimental
            from trl.experimental.orpo import ORPOConfig, ORPOTrainer

            args = ORPOConfig(**settings, beta=config.beta, remove_unused_columns=False)
            trainer = ORPOTrainer(model=model, args=args, **data)
    result = run_trainer(trainer, keep_trainer_forward=True)  # trainer.evaluate needs TRL's forward
    if getattr(trainer, "ref_model", None) is not None:
        release_model(trainer.ref_model, keep_trainer_forward=True)  # in its own dtype too
    return result
