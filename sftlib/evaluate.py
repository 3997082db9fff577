"""Scoring a causal language model: perplexity on text and accuracy on knowledge probes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm


@torch.no_grad()
def perplexity(model, tokenizer, texts: list[str], batch_size: int = 16, max_length: int = 512) -> float:
    """Token-weighted perplexity of ``model`` on ``texts``, each scored as ``<s> text </s>``.

    Args:
        model: a causal LM; it is put in eval mode.
        tokenizer: its tokenizer (adds BOS; padding is masked out of the loss).
        texts: documents; each is truncated to ``max_length`` tokens.
        batch_size: documents per forward pass.

    Returns:
        ``exp(total negative log-likelihood / number of predicted tokens)``, a float >= 1.

    Example:
        >>> perplexity(model, tokenizer, ["The capital of France is Paris."])  # doctest: +SKIP
        3.2
    """
    model.eval()
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    for i in tqdm(range(0, len(texts), batch_size), desc="perplexity", leave=False,
                  disable=len(texts) <= 4 * batch_size):
        batch = [t + tokenizer.eos_token for t in texts[i : i + batch_size]]
        enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True,
                        max_length=max_length, padding_side="right").to(device)
        logits = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).logits.float()
        targets = enc.input_ids[:, 1:].masked_fill(enc.attention_mask[:, 1:] == 0, -100)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), targets,
                                                ignore_index=-100, reduction="sum")
        total_nll += nll.item()
        total_tokens += int((targets != -100).sum())
    return math.exp(total_nll / total_tokens)


@dataclass
class Completion:
    """One greedy continuation: its text, how many tokens were generated, whether EOS ended it."""

    text: str
    num_tokens: int
    stopped: bool


@torch.no_grad()
def completions(model, tokenizer, prompts: list[str], max_new_tokens: int = 8,
                batch_size: int = 32, add_special_tokens: bool = True) -> list[Completion]:
    """Greedy continuations of ``prompts`` with their lengths and stop flags.

    Args:
        prompts: plain text; BOS is added unless ``add_special_tokens=False`` (use that for text
            rendered by a chat template, which already starts with BOS).
        max_new_tokens: at most this many tokens per continuation.
        batch_size: prompts per ``generate`` call (left-padded).

    Returns:
        One ``Completion`` per prompt; ``text`` excludes the prompt and special tokens,
        ``num_tokens`` counts generated tokens up to and including EOS.
    """
    model.eval()
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    results: list[Completion] = []
    for i in tqdm(range(0, len(prompts), batch_size), desc="generate", leave=False,
                  disable=len(prompts) <= 4 * batch_size):
        enc = tokenizer(prompts[i : i + batch_size], return_tensors="pt", padding=True,
                        padding_side="left", add_special_tokens=add_special_tokens).to(device)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
        for row in gen[:, enc.input_ids.shape[1] :].tolist():
            n = row.index(eos) + 1 if eos in row else len(row)
            results.append(Completion(tokenizer.decode(row[:n], skip_special_tokens=True), n,
                                      eos in row))
    return results


def complete(model, tokenizer, prompts: list[str], max_new_tokens: int = 8,
             batch_size: int = 32, add_special_tokens: bool = True) -> list[str]:
    """Greedy continuations of ``prompts`` as text (see ``completions`` for the arguments)."""
    return [c.text for c in completions(model, tokenizer, prompts, max_new_tokens, batch_size,
                                        add_special_tokens)]


def probe_accuracy(model, tokenizer, probes: list[dict[str, str]], batch_size: int = 64) -> float:
    """Fraction of probes whose greedy continuation starts with the expected answer.

    Args:
        probes: records with ``prompt`` (a sentence prefix) and ``answer`` (the next words).

    Returns:
        Accuracy in [0, 1].
    """
    if not probes:
        raise ValueError("probe_accuracy: no probes given")
    longest = max(len(tokenizer(p["answer"], add_special_tokens=False).input_ids) for p in probes)
    outs = complete(model, tokenizer, [p["prompt"] for p in probes], longest + 1, batch_size)
    hits = [o.strip().startswith(p["answer"]) for o, p in zip(outs, probes)]
    return sum(hits) / len(hits)


def chat_prompt(tokenizer, question: str) -> str:
    """``question`` as a one-turn chat, rendered with the tokenizer's template, ready to answer."""
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True)


def score_answers(model, tokenizer, records: list[dict[str, str]], render=None,
                  max_new_tokens: int = 16, add_special_tokens: bool = False) -> dict:
    """Ask each record's ``prompt`` and check the greedy answer against its ``completion``.

    Args:
        records: dicts with ``prompt`` (a question) and ``completion`` (the expected answer).
        render: turns a question into model input text; default: ``chat_prompt`` (the template
            already starts with BOS, hence ``add_special_tokens=False``).
        max_new_tokens: longest answer, tokens.

    Returns:
        ``accuracy`` (share of answers that start with the expected one), ``stopped`` (share ended
        by EOS), ``mean_tokens`` (generated tokens per answer) and ``example`` (the first answer).
    """
    if not records:
        raise ValueError("score_answers: no records given")
    render = render or (lambda question: chat_prompt(tokenizer, question))
    outs = completions(model, tokenizer, [render(r["prompt"]) for r in records], max_new_tokens,
                       add_special_tokens=add_special_tokens)
    return {"accuracy": sum(o.text.strip().startswith(r["completion"])
                            for o, r in zip(outs, records)) / len(records),
            "stopped": sum(o.stopped for o in outs) / len(outs),
            "mean_tokens": sum(o.num_tokens for o in outs) / len(outs),
            "example": outs[0].text}
