"""Scoring a causal language model: perplexity, generated answers (greedy or sampled), option
log-likelihoods for multiple-choice benchmarks, and the course's offline ``evaluate`` metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

# Most logits one forward pass of continuation_logprobs makes: 2**26 float32 values are 256 MiB.
# Lesson 08, whose judge scores 60 tickets with SmolLM2's 49,152-token vocabulary, peaked at
# 3,789 MiB without the limit and 2,375 MiB with it (then with a log-softmax of every position).
LOGITS_BUDGET = 2**26


def perplexity(model, tokenizer, texts: list[str], batch_size: int = 16, max_length: int = 512) -> float:
    """Token-weighted perplexity of ``model`` on ``texts``, each scored as ``<s> text </s>``.

    Args:
        model: a causal LM; it is put in eval mode.
        tokenizer: its tokenizer (padding is masked out of the loss).
        texts: documents; each is truncated to ``max_length`` tokens.
        batch_size: documents per forward pass.

    Returns:
        ``exp(total negative log-likelihood / number of predicted tokens)``, a float >= 1, over
        the tokens that :func:`document_logprobs` scores.

    Example:
        >>> perplexity(model, tokenizer, ["The capital of France is Paris."])  # doctest: +SKIP
        3.2
    """
    if not texts:
        raise ValueError("perplexity: no texts given")
    scored = document_logprobs(model, tokenizer, texts, batch_size, max_length)
    return math.exp(-sum(logp for logp, _ in scored) / sum(n for _, n in scored))


@torch.no_grad()
def document_logprobs(model, tokenizer, texts: list[str], batch_size: int = 16,
                      max_length: int = 512) -> list[tuple[float, int]]:
    """Log-probability of each document, scored as ``<s> text </s>`` in right-padded batches.

    Every token after the first is predicted from the ones before it: the text's first token
    too where the tokenizer adds a BOS (``tiny``), not where it adds none (SmolLM2), since then
    nothing comes before it. The EOS appended to each text is scored as well.

    Args:
        model: a causal LM; it is put in eval mode.
        tokenizer: its tokenizer (padding is masked out).
        texts: documents; each is truncated to ``max_length`` tokens, EOS included.
        batch_size: documents per forward pass.

    Returns:
        One ``(log_prob, num_tokens)`` per text: natural-log probability (<= 0) and the number
        of tokens it sums over.
    """
    if not texts:
        raise ValueError("document_logprobs: no texts given")
    model.eval()
    device = next(model.parameters()).device
    scored = []
    for i in tqdm(range(0, len(texts), batch_size), desc="perplexity", leave=False,
                  disable=len(texts) <= 4 * batch_size):
        batch = [t + tokenizer.eos_token for t in texts[i : i + batch_size]]
        enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True,
                        max_length=max_length, padding_side="right").to(device)
        logits = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).logits.float()
        targets = enc.input_ids[:, 1:].masked_fill(enc.attention_mask[:, 1:] == 0, -100)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets,
                                                ignore_index=-100, reduction="none")  # (batch, tokens)
        scored += [(-row.sum().item(), int((row_targets != -100).sum()))
                   for row, row_targets in zip(nll, targets)]
    return scored


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


def probe_hits(model, tokenizer, probes: list[dict[str, str]], batch_size: int = 64) -> list[bool]:
    """For each probe, whether the greedy continuation starts with the expected answer.

    Args:
        probes: records with ``prompt`` (a sentence prefix) and ``answer`` (the next words).

    Returns:
        One bool per probe, in order.
    """
    if not probes:
        raise ValueError("probe_accuracy: no probes given")
    longest = max(len(tokenizer(p["answer"], add_special_tokens=False).input_ids) for p in probes)
    outs = complete(model, tokenizer, [p["prompt"] for p in probes], longest + 1, batch_size)
    return [o.strip().startswith(p["answer"]) for o, p in zip(outs, probes)]


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
    outs = ask(model, tokenizer, [r["prompt"] for r in records], render, max_new_tokens,
               add_special_tokens, sampling, stop_at_eos)
    return {"accuracy": sum(o.text.strip().startswith(r["completion"].strip())
                            for o, r in zip(outs, records)) / len(records),
            "exact": sum(o.text.strip() == r["completion"].strip()
                         for o, r in zip(outs, records)) / len(records),
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


@torch.no_grad()
def continuation_logprobs(model, tokenizer, contexts: list[str], continuations: list[str],
                          batch_size: int = 32, add_special_tokens: bool = True) -> list[tuple[float, int]]:
    """Log-probability of each ``continuation`` given its ``context``, summed over its tokens.

    The pair is tokenized as ``context`` then ``continuation`` separately (so the boundary is
    where the continuation's first token starts) and scored in one right-padded forward pass.

    Args:
        contexts, continuations: equally long lists of text; a continuation usually starts with a
            space (`` Paris``).
        add_special_tokens: prepend BOS to each context (False for chat-rendered text).

    Returns:
        One ``(log_prob, num_tokens)`` per pair: natural-log probability (<= 0) and the number of
        continuation tokens it sums over.
    """
    if len(contexts) != len(continuations):
        raise ValueError(f"continuation_logprobs: {len(contexts)} contexts but {len(continuations)} "
                         "continuations")
    if not contexts:
        raise ValueError("continuation_logprobs: no contexts given")
    model.eval()
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    results = []
    for i in tqdm(range(0, len(contexts), batch_size), desc="log-likelihood", leave=False,
                  disable=len(contexts) <= 4 * batch_size):
        ctx = tokenizer(contexts[i : i + batch_size], add_special_tokens=add_special_tokens).input_ids
        cont = tokenizer(continuations[i : i + batch_size], add_special_tokens=False).input_ids
        if any(not c for c in cont):
            raise ValueError("continuation_logprobs: an empty continuation has no tokens to score")
        if any(not a for a in ctx):  # its first token would have no position to be predicted from
            k = i + next(n for n, a in enumerate(ctx) if not a)
            raise ValueError(f"continuation_logprobs: context {k} has no tokens; give it text, or "
                             "add_special_tokens=True where the tokenizer adds a BOS to start from "
                             "(document_logprobs scores whole texts with or without one)")
        rows = [a + b for a, b in zip(ctx, cont)]
        for group in logit_groups([len(r) for r in rows], model.config.vocab_size):
            width = max(len(r) for r in rows[group])
            ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows[group]], device=device)
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows[group]],
                                device=device)
            logits = model(input_ids=ids, attention_mask=mask).logits  # (rows, width, vocab)
            for row, (a, b) in enumerate(zip(ctx[group], cont[group])):
                # only the positions that predict the continuation: a log-softmax of the whole
                # group would double its memory (SmolLM2: 49,152 values a position)
                logp = logits[row, len(a) - 1 : len(a) + len(b) - 1].float().log_softmax(-1)
                targets = torch.tensor(b, device=device)
                results.append((logp[torch.arange(len(b), device=device), targets].sum().item(), len(b)))
    return results


def logit_groups(lengths: list[int], vocab_size: int, budget: int = LOGITS_BUDGET) -> list[slice]:
    """Consecutive groups of rows, each scored in one forward pass within a memory budget.

    A forward pass of ``n`` right-padded rows makes ``n x longest x vocab_size`` logits. A group
    grows while that count stays within ``budget`` (one row is a group even when it alone exceeds
    it).

    Args:
        lengths: token count of each row, in order.
        vocab_size: the model's vocabulary size.
        budget: most logits in one pass; :data:`LOGITS_BUDGET` (256 MiB in float32).

    Returns:
        Slices that cover ``lengths`` in order. With the tiny model's 1,816-token vocabulary a
        batch of 32 rows fits up to 1,154 tokens, past its 512 positions, so it stays one group;
        with SmolLM2's 49,152, 32 rows of 200 tokens become six groups (five of 6 rows, then 2).

    Example:
        >>> logit_groups([200] * 32, 49_152)[:2]
        [slice(0, 6, None), slice(6, 12, None)]
    """
    groups, start, longest = [], 0, 0
    for i, n in enumerate(lengths):
        if i > start and (i - start + 1) * max(longest, n) * vocab_size > budget:
            groups.append(slice(start, i))
            start, longest = i, 0
        longest = max(longest, n)
    groups.append(slice(start, len(lengths)))
    return groups


def answer_perplexity(model, tokenizer, contexts: list[str], answers: list[str],
                      add_special_tokens: bool = True, batch_size: int = 32) -> float:
    """Perplexity of the ``answers`` alone, each given its context (the context is masked out).

    Token-weighted over the whole set: ``exp(total answer NLL / total answer tokens)``, the same
    quantity as ``exp(eval_loss)`` of a trainer that trains on completions only.
    """
    scored = continuation_logprobs(model, tokenizer, contexts, answers, batch_size, add_special_tokens)
    return math.exp(-sum(lp for lp, _ in scored) / sum(n for _, n in scored))


def multiple_choice(model, tokenizer, items: list[dict], render=None, separator: str = " ",
                    add_special_tokens: bool = True, batch_size: int = 32) -> dict:
    """Score multiple-choice items cloze-style, as log-likelihood harnesses score ARC or HellaSwag.

    Each option is scored as the continuation ``separator + choice`` of the rendered question.
    The model's pick is the option with the highest log-probability (``accuracy``) or the highest
    log-probability per character (``accuracy_norm``, which does not favour short options).

    Args:
        items: records with ``question`` (str), ``choices`` (list of str) and ``answer`` (index of
            the right choice), the shape of MMLU on the hub; other keys are ignored.
        render: turns a record into the context text; default: the question itself.
        separator: put between the context and each choice (a space for plain text; often ""
            after a chat template's assistant header).
        add_special_tokens: prepend BOS to the context (False when ``render`` applies a chat
            template that already has it).

    Returns:
        ``accuracy``, ``accuracy_norm`` (shares in [0, 1]), ``picks`` and ``picks_norm`` (the
        chosen index per item, without and with length normalisation).
    """
    if not items:
        raise ValueError("multiple_choice: no items given")
    render = render or (lambda item: item["question"])
    contexts, options = [], []
    for n, item in enumerate(items):
        missing = {"question", "choices", "answer"} - item.keys()
        if missing:
            raise ValueError(f"multiple_choice: item {n} lacks {sorted(missing)}")
        choices = item["choices"]
        if not isinstance(choices, list) or not choices or \
                not all(isinstance(c, str) and c.strip() for c in choices):
            raise ValueError(f"multiple_choice: item {n} choices must be a non-empty list of "
                             f"non-empty strings, got {choices!r}")
        if type(item["answer"]) is not int:
            raise ValueError(f"multiple_choice: item {n} answer must be an integer index, got "
                             f"{item['answer']!r}")
        if not 0 <= item["answer"] < len(item["choices"]):
            raise ValueError(f"multiple_choice: item {n} answer {item['answer']} is not an index "
                             f"of its {len(item['choices'])} choices")
        contexts += [render(item)] * len(item["choices"])
        options += [separator + c for c in item["choices"]]
    scores = iter(continuation_logprobs(model, tokenizer, contexts, options, batch_size,
                                        add_special_tokens))
    picks, picks_norm = [], []
    for item in items:
        s = [next(scores) for _ in item["choices"]]
        picks.append(max(range(len(s)), key=lambda k: s[k][0]))
        picks_norm.append(max(range(len(s)), key=lambda k: s[k][0] / len(item["choices"][k])))
    n = len(items)
    return {"accuracy": sum(p == it["answer"] for p, it in zip(picks, items)) / n,
            "accuracy_norm": sum(p == it["answer"] for p, it in zip(picks_norm, items)) / n,
            "picks": picks, "picks_norm": picks_norm}


def probe_choices(probes: list[dict], num_choices: int = 4, seed: int = 0) -> list[dict]:
    """Multiple-choice items (MMLU's shape) from sentence probes.

    Each probe's ``prompt`` becomes the ``question``; its ``answer`` is mixed with
    ``num_choices - 1`` distractors: answers of other probes with the same ``attribute``.

    Args:
        probes: records with ``prompt``, ``answer`` and ``attribute`` (as in ``data/probes``).

    Returns:
        ``{"question", "subject", "choices", "answer"}`` per probe; ``subject`` is the attribute,
        ``answer`` the index of the right choice (positions shuffled with ``seed``).
    """
    import random

    rng = random.Random(seed)
    pools: dict[str, list[str]] = {}
    for p in probes:
        pools.setdefault(p["attribute"], [])
        if p["answer"] not in pools[p["attribute"]]:
            pools[p["attribute"]].append(p["answer"])
    items = []
    for n, p in enumerate(probes):
        others = [a for a in pools[p["attribute"]] if a != p["answer"]]
        if len(others) < num_choices - 1:
            raise ValueError(f"probe_choices: probe {n} ({p['attribute']}) has {len(others)} other "
                             f"answers to draw distractors from, needs {num_choices - 1}")
        choices = rng.sample(others, num_choices - 1) + [p["answer"]]
        rng.shuffle(choices)
        items.append({"question": p["prompt"], "subject": p["attribute"], "choices": choices,
                      "answer": choices.index(p["answer"])})
    return items


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
