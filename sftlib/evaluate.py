"""Scoring what a causal language model generates: completions and answers (greedy or sampled),
knowledge probes, the significance of an accuracy difference, how skewed a model's answers are
against its training data (bias amplification), and the course's offline ``evaluate`` metrics. Scores by log-likelihood (perplexity, multiple choice) are in
:mod:`sftlib.likelihood`."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm


@dataclass(frozen=True)
class Sampling:
    """Sampled decoding for ``completions``: ``temperature`` (> 0) and nucleus ``top_p`` (0..1].

    ``seed`` seeds torch before generating, so a sampled metric is reproducible and its spread
    over seeds can be measured. Without a ``Sampling``, decoding is greedy.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"Sampling: need temperature > 0 and 0 < top_p <= 1, got {self}")


@dataclass
class Completion:
    """One continuation: its text, how many tokens were generated, whether EOS ended it."""

    text: str
    num_tokens: int
    stopped: bool


@torch.no_grad()
def completions(model, tokenizer, prompts: list[str], max_new_tokens: int = 8,
                batch_size: int = 32, add_special_tokens: bool = True,
                sampling: Sampling | None = None, stop_at_eos: bool = True) -> list[Completion]:
    """Continuations of ``prompts`` (greedy unless ``sampling``) with their lengths and stop flags.

    Args:
        prompts: plain text; BOS is added unless ``add_special_tokens=False`` (use that for text
            rendered by a chat template, which already starts with BOS).
        max_new_tokens: at most this many tokens per continuation.
        batch_size: prompts per ``generate`` call (left-padded).
        sampling: sample with these settings instead of taking the most likely token.
        stop_at_eos: end a continuation at EOS; False generates all ``max_new_tokens`` and keeps
            the text after EOS too (what a server without a stop token returns).

    Returns:
        One ``Completion`` per prompt; ``text`` excludes the prompt and special tokens,
        ``num_tokens`` counts generated tokens up to and including EOS (all of them when
        ``stop_at_eos`` is False); ``stopped`` says whether EOS was generated.
    """
    model.eval()
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    decoding = {"do_sample": False}
    if sampling is not None:
        torch.manual_seed(sampling.seed)
        decoding = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p,
                    "top_k": None}
    results: list[Completion] = []
    for i in tqdm(range(0, len(prompts), batch_size), desc="generate", leave=False,
                  disable=len(prompts) <= 8 * batch_size):
        enc = tokenizer(prompts[i : i + batch_size], return_tensors="pt", padding=True,
                        padding_side="left", add_special_tokens=add_special_tokens).to(device)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, **decoding,
                             eos_token_id=eos if stop_at_eos else None,
                             pad_token_id=tokenizer.pad_token_id)
        for row in gen[:, enc.input_ids.shape[1] :].tolist():
            n = row.index(eos) + 1 if eos in row and stop_at_eos else len(row)
            results.append(Completion(tokenizer.decode(row[:n], skip_special_tokens=True), n,
                                      eos in row))
    return results


def complete(model, tokenizer, prompts: list[str], max_new_tokens: int = 8,
             batch_size: int = 32, add_special_tokens: bool = True) -> list[str]:
    """Greedy continuations of ``prompts`` as text (see ``completions`` for the arguments)."""
    return [c.text for c in completions(model, tokenizer, prompts, max_new_tokens, batch_size,
                                        add_special_tokens)]


def expected_answers(records: list[dict], prompt: str, answer: str, what: str) -> list[str]:
    """Each record's ``answer`` field, stripped; raises naming the record and field if it or the
    ``prompt`` field is missing or blank (every answer "starts with" an empty one)."""
    for i, record in enumerate(records):
        for field in (prompt, answer):
            text = record.get(field)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{what}: record {i}, field {field!r}: "
                                 + ("missing" if text is None else f"{text!r} is not a non-empty string"))
    return [record[answer].strip() for record in records]


def probe_hits(model, tokenizer, probes: list[dict[str, str]], batch_size: int = 64) -> list[bool]:
    """For each probe, whether the greedy continuation starts with the expected answer.

    Args:
        probes: records with ``prompt`` (a sentence prefix) and ``answer`` (the next words).

    Returns:
        One bool per probe, in order.
    """
    if not probes:
        raise ValueError("probe_hits: no probes given")
    answers = expected_answers(probes, "prompt", "answer", "probe_hits")
    longest = max(len(tokenizer(a, add_special_tokens=False).input_ids) for a in answers)
    outs = complete(model, tokenizer, [p["prompt"] for p in probes], longest + 1, batch_size)
    return [o.strip().startswith(a) for o, a in zip(outs, answers)]


def probe_accuracy(model, tokenizer, probes: list[dict[str, str]], batch_size: int = 64) -> float:
    """Fraction of probes whose greedy continuation starts with the expected answer, in [0, 1]."""
    hits = probe_hits(model, tokenizer, probes, batch_size)
    return sum(hits) / len(hits)


def chat_prompt(tokenizer, question: str) -> str:
    """``question`` as a one-turn chat, rendered with the tokenizer's template, ready to answer."""
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True)


def chat_continuation(tokenizer, prompt: list[dict], answer: list[dict]) -> tuple[str, str]:
    """``prompt`` rendered ready to answer, and the text the chat template writes after it for
    ``answer`` (the answer's messages, end-of-turn included): what a model is scored on.

    Raises:
        ValueError: the template renders the prompt differently alone than before the answer.
    """
    context = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    whole = tokenizer.apply_chat_template([*prompt, *answer], tokenize=False)
    if not whole.startswith(context):
        raise ValueError("the chat template renders the prompt differently alone than before an "
                         "answer, so the answer's text cannot be cut out; score plain text instead")
    return context, whole[len(context):]


def answer_continuations(tokenizer, records: Sequence[Mapping]) -> tuple[list[str], list[str]]:
    """Each record's conversation up to its last answer, rendered ready to answer, and that answer
    as the chat template writes it (end of turn included): the pairs an answer perplexity scores.

    Args:
        tokenizer: a tokenizer with a chat template.
        records: records in any shape ``sftlib.schemas.to_messages`` reads, each ending with the
            assistant's answer.

    Returns:
        ``(contexts, answers)``, two lists of strings as long as ``records``. For ``tiny`` an
        answer is a space, the completion and ``</s>``; for a ChatML model (SmolLM2), the
        completion, ``<|im_end|>`` and a newline.

    Raises:
        ValueError: a record that is not valid, or whose last message is not the assistant's
            (the message names the record's number, from 1, and its id).
    """
    from sftlib.schemas import to_messages

    contexts, answers = [], []
    for number, record in enumerate(records, 1):
        try:
            chat = to_messages(record)["messages"]
        except ValueError as error:
            raise ValueError(f"answer_continuations: record {number} ({record.get('id', 'no id')}): "
                             f"{error}") from None
        context, answer = chat_continuation(tokenizer, chat[:-1], chat[-1:])
        contexts.append(context)
        answers.append(answer)
    return contexts, answers


def ask(model, tokenizer, questions: list[str], render=None, max_new_tokens: int = 16,
        add_special_tokens: bool = False, sampling: Sampling | None = None,
        stop_at_eos: bool = True) -> list[Completion]:
    """Ask each question (rendered by ``render``, default ``chat_prompt``) and return the answers.

    ``max_new_tokens``, ``sampling`` and ``stop_at_eos`` are as in ``completions``; the chat
    template already starts with BOS, hence ``add_special_tokens=False``.
    """
    render = render or (lambda question: chat_prompt(tokenizer, question))
    return completions(model, tokenizer, [render(q) for q in questions], max_new_tokens,
                       add_special_tokens=add_special_tokens, sampling=sampling,
                       stop_at_eos=stop_at_eos)


def score_answers(model, tokenizer, records: list[dict[str, str]], render=None,
                  max_new_tokens: int = 16, add_special_tokens: bool = False,
                  sampling: Sampling | None = None, stop_at_eos: bool = True) -> dict:
    """Ask each record's ``prompt`` and check the answer against its ``completion``.

    Args:
        records: dicts with ``prompt`` (a question) and ``completion`` (the expected answer).
        render, max_new_tokens, add_special_tokens, sampling, stop_at_eos: as in ``ask``.

    Returns:
        ``accuracy`` (share of answers that start with the expected one), ``exact`` (share equal
        to it), both with surrounding spaces aside, ``stopped`` (share that generated EOS), ``mean_tokens``
        (generated tokens per answer) and ``example`` (the first answer).
    """
    if not records:
        raise ValueError("score_answers: no records given")
    answers = expected_answers(records, "prompt", "completion", "score_answers")
    outs = ask(model, tokenizer, [r["prompt"] for r in records], render, max_new_tokens,
               add_special_tokens, sampling, stop_at_eos)
    return {"accuracy": sum(o.text.strip().startswith(a) for o, a in zip(outs, answers)) / len(records),
            "exact": sum(o.text.strip() == a for o, a in zip(outs, answers)) / len(records),
            "stopped": sum(o.stopped for o in outs) / len(outs),
            "mean_tokens": sum(o.num_tokens for o in outs) / len(outs),
            "example": outs[0].text}


def clearly_better(a: float, b: float, n: int, z: float = 2.0) -> bool:
    """Whether accuracy ``a`` beats ``b`` by more than ``z`` standard errors of their difference.

    ``a`` and ``b`` are shares of ``n`` questions each (0..1), treated as independent binomial
    estimates, so the standard error of ``a - b`` is ``sqrt(a(1-a)/n + b(1-b)/n)``. On 150
    questions two accuracies near 50 % must differ by about 11 points to count; a few points
    are what another seed or a slightly different question set moves.

    Example:
        >>> clearly_better(0.60, 0.45, 150), clearly_better(0.60, 0.55, 150)
        (True, False)
    """
    if n < 1:
        raise ValueError(f"clearly_better: n must be the number of questions (1 or more), got {n}")
    if not (0 <= a <= 1 and 0 <= b <= 1):
        raise ValueError(f"clearly_better: accuracies are shares between 0 and 1, got {a} and {b}")
    error = math.sqrt((a * (1 - a) + b * (1 - b)) / n)
    return a - b > z * error


def answer_skew(questions: Sequence[Mapping], answers: Sequence[str],
                training: Sequence[Mapping]) -> list[dict]:
    """Per attribute, the value a model answers most often, and how often the data says it.

    Bias amplification (Zhao et al., 2017): a model's outputs are more skewed than the data it
    learned from. Where the training answers of an attribute are spread over many values, a model
    that gives one value to a large share of questions says it far more often than the data
    (``model share`` against ``training share``) or the truth (``truth share``) does.

    Args:
        questions: records with ``attribute`` and ``completion`` (the right answer).
        answers: the model's answer to each question, in the same order (compared stripped).
        training: the training records (``attribute``, ``completion``) the model learned from.

    Returns:
        One row per attribute, in order of first appearance: ``attribute``, ``questions``,
        ``values in training`` (distinct answers), ``top answer`` (the model's most frequent;
        the first one given, on a tie), its ``model share`` (of that attribute's answers, 0..1),
        ``truth share`` (of the right answers to the same questions), ``training share`` (of the
        attribute's training answers), ``truths' top share`` (the share of the most frequent right
        answer: what the top of several counts reaches by chance, the fair yardstick for ``model
        share``), and ``distinct answers`` / ``distinct truths`` given to these questions.

    Raises:
        ValueError: not as many answers as questions, or a question's attribute has no training
            records.
        KeyError: a question or training record has no ``attribute`` or ``completion``.

    Example:
        >>> qs = [{"attribute": "city", "completion": c} for c in ("Oslo", "Rome", "Lima")]
        >>> row, = answer_skew(qs, ["Oslo", "Oslo", "Oslo"], qs)
        >>> row["top answer"], row["model share"], round(row["training share"], 2)
        ('Oslo', 1.0, 0.33)
    """
    if len(answers) != len(questions):
        raise ValueError(f"answer_skew: {len(answers)} answers for {len(questions)} questions")
    for what, records in (("question", questions), ("training record", training)):
        for i, record in enumerate(records):
            for key in ("attribute", "completion"):
                if key not in record:
                    raise KeyError(f"answer_skew: {what} {i} has no field {key!r} (it has {sorted(record)})")
    trained: dict[str, Counter] = {}
    for record in training:
        trained.setdefault(record["attribute"], Counter())[record["completion"].strip()] += 1
    rows = []
    for attribute in dict.fromkeys(q["attribute"] for q in questions):
        if attribute not in trained:
            raise ValueError(f"answer_skew: no training records with attribute {attribute!r}")
        asked = [i for i, q in enumerate(questions) if q["attribute"] == attribute]
        said = Counter(answers[i].strip() for i in asked)
        truths = Counter(questions[i]["completion"].strip() for i in asked)
        top = said.most_common(1)[0][0]
        rows.append({"attribute": attribute, "questions": len(asked),
                     "values in training": len(trained[attribute]), "top answer": top,
                     "model share": said[top] / len(asked), "truth share": truths[top] / len(asked),
                     "training share": trained[attribute][top] / trained[attribute].total(),
                     "truths' top share": truths.most_common(1)[0][1] / len(asked),
                     "distinct answers": len(said), "distinct truths": len(truths)})
    return rows


def load_metric(name: str):
    """A course metric as an ``evaluate`` module, loaded offline from ``sftlib/metrics/``.

    The metrics: ``accuracy``, ``classification`` (precision, recall, F1, confusion matrix),
    ``exact_match`` and ``rouge``.

    ``evaluate.load`` gets the script's file path, so nothing is fetched from the Hugging Face hub
    (it copies the script into ``$HF_HOME/modules/evaluate_modules/metrics/`` and imports it).

    Args:
        name: the script's name without ``.py``.

    Returns:
        An ``evaluate.EvaluationModule``; ``.compute(predictions=[...], references=[...])`` takes
        two equally long lists of strings and returns a dict of scores (see each script's
        ``inputs_description`` for the extra arguments and the keys).

    Raises:
        ValueError: ``name`` is not one of the scripts in ``sftlib/metrics/``.

    Example:
        >>> load_metric("accuracy").compute(predictions=["urgent", "urgent"],
        ...                                 references=["urgent", "not urgent"])  # doctest: +SKIP
        {'accuracy': 0.5}
    """
    import evaluate

    folder = Path(__file__).parent / "metrics"
    known = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    if name not in known:
        raise ValueError(f"load_metric: unknown metric {name!r}; the course metrics are "
                         f"{', '.join(known)}")
    return evaluate.load(str(folder / f"{name}.py"))


def label_scores(predictions: Iterable[str], references: Iterable[str], labels: Sequence[str],
                 positive: str) -> dict:
    """A classifier's scores in one row: accuracy, then precision, recall and F1 of ``positive``.

    The course's ``accuracy`` and ``classification`` metrics (``load_metric``) computed together,
    with how often ``positive`` was predicted: a classifier that says it every time has recall 1
    and precision equal to its share, which the row shows at once.

    Args:
        predictions: predicted labels, one per example.
        references: true labels, as many and in the same order.
        labels: every label, ``positive`` among them.
        positive: the label whose precision, recall and F1 are reported.

    Returns:
        ``accuracy``, ``precision``, ``recall``, ``f1`` (shares in [0, 1]) and ``said <positive>``
        (a count).

    Example:
        >>> label_scores(["urgent", "urgent"], ["urgent", "not urgent"], ["urgent", "not urgent"],
        ...              "urgent")  # doctest: +SKIP
        {'accuracy': 0.5, 'precision': 0.5, 'recall': 1.0, 'f1': 0.6666666666666666, 'said urgent': 2}
    """
    predictions, references = list(predictions), list(references)
    scores = load_metric("classification").compute(predictions=predictions, references=references,
                                                     labels=list(labels), positive=positive)
    return {**load_metric("accuracy").compute(predictions=predictions, references=references),
            **{k: scores[k] for k in ("precision", "recall", "f1")},
            f"said {positive}": predictions.count(positive)}
