"""Scoring a causal language model by log-likelihood: perplexity of documents and of answers,
the log-probability of continuations, and multiple-choice items scored cloze-style.

Nothing is generated: each number comes from the probabilities the model gives text that is
already written. :mod:`sftlib.evaluate` scores what the model generates.
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

# Most logits one forward pass of continuation_logprobs makes: 2**26 float32 values are 256 MiB.
# Lesson 08, whose judge scores 60 tickets with SmolLM2's 49,152-token vocabulary, peaked at
# 3,789 MiB without the limit and 2,375 MiB with it (then with a log-softmax of every position).
LOGITS_BUDGET = 2**26


def perplexity(model, tokenizer, texts: list[str], batch_size: int = 16, max_length: int = 512) -> float:
    """Token-weighted perplexity of ``model`` on ``texts``, each scored as ``text </s>`` after the
    tokenizer's BOS, where it adds one (``<s>`` for ``tiny``; SmolLM2 adds none).

    Args:
        model: a causal LM; it is put in eval mode.
        tokenizer: its tokenizer (padding is masked out of the loss).
        texts: documents; one longer than ``max_length`` tokens (EOS included) raises.
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
    """Log-probability of each document, scored as ``text </s>`` (after the tokenizer's BOS, if it
    adds one) in right-padded batches.

    Every token after the first is predicted from the ones before it: the text's first token
    too where the tokenizer adds a BOS (``tiny``), not where it adds none (SmolLM2), since then
    nothing comes before it. The EOS appended to each text is scored as well.

    Args:
        model: a causal LM; it is put in eval mode.
        tokenizer: its tokenizer (padding is masked out).
        texts: documents; one longer than ``max_length`` tokens, EOS included, raises (a cut
            text would lose its EOS and its tail without a word).
        batch_size: documents per forward pass.

    Returns:
        One ``(log_prob, num_tokens)`` per text: natural-log probability (<= 0) and the number
        of tokens it sums over.

    Raises:
        ValueError: no texts, or a text longer than ``max_length`` (named by its index).
    """
    if not texts:
        raise ValueError("document_logprobs: no texts given")
    model.eval()
    device = next(model.parameters()).device
    scored = []
    for i in tqdm(range(0, len(texts), batch_size), desc="perplexity", leave=False,
                  disable=len(texts) <= 4 * batch_size):
        batch = [t + tokenizer.eos_token for t in texts[i : i + batch_size]]
        enc = tokenizer(batch, return_tensors="pt", padding=True, padding_side="right").to(device)
        lengths = enc.attention_mask.sum(dim=1).tolist()
        if max(lengths) > max_length:
            k = next(k for k, n in enumerate(lengths) if n > max_length)
            raise ValueError(f"document_logprobs: text {i + k} is {lengths[k]} tokens with its EOS, "
                             f"more than max_length={max_length}; raise max_length or split the "
                             "text (it is not cut silently)")
        logits = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).logits.float()
        targets = enc.input_ids[:, 1:].masked_fill(enc.attention_mask[:, 1:] == 0, -100)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets,
                                                ignore_index=-100, reduction="none")  # (batch, tokens)
        scored += [(-row.sum().item(), int((row_targets != -100).sum()))
                   for row, row_targets in zip(nll, targets)]
    return scored


@torch.no_grad()
def continuation_logprobs(model, tokenizer, contexts: list[str], continuations: list[str],
                          batch_size: int = 32, add_special_tokens: bool = True) -> list[tuple[float, int]]:
    """Log-probability of each ``continuation`` given its ``context``, summed over its tokens.

    The pair is tokenized as ``context`` then ``continuation`` separately (so the boundary is
    where the continuation's first token starts) and scored in right-padded forward passes
    (``batch_size`` pairs, split further by ``logit_groups`` when the logits would be large).

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
