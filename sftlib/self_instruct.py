"""Self-Instruct in miniature: a teacher model writes question/answer pairs, filters keep the good ones.

The pipeline of Wang et al. (2023), "Self-Instruct", and of Stanford Alpaca: a few human-written
seed examples go into the teacher's prompt, the teacher proposes new questions and then answers
them, and cheap filters (heuristics, ROUGE-L similarity against everything kept so far,
deduplication) decide what enters the training set. Our teacher is small, so each prompt also carries a source document about
the person to ask about, and one filter checks that the answer is in it (grounding).

``filter_candidates`` records *why* each candidate was dropped, so a lesson can show where the
teacher's output goes.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rouge_score import rouge_scorer

from sftlib.evaluate import Sampling, chat_prompt, completions
from sftlib.quality import normalize_text

INSTRUCTION = ("Examples of questions with short answers:\n{examples}\n\nText: {document}\n\n"
               "Write one new question about {entity} that the text answers. Write only the question.")
ANSWER = "Text: {document}\n\nQuestion: {question}"  # the reply is started with "Answer:"


@dataclass
class SelfInstructConfig:
    """How the teacher is prompted and sampled, and how strict the filters are."""

    num_examples: int = field(default=3, metadata={"help": "seed examples shown in each prompt"})
    question_tokens: int = field(default=24, metadata={"help": "teacher tokens per question"})
    answer_tokens: int = field(default=12, metadata={"help": "teacher tokens per answer"})
    temperature: float = field(default=0.7, metadata={"help": "teacher sampling temperature"})
    top_p: float = 0.9
    max_answer_words: int = field(default=6, metadata={"help": "longer answers are dropped"})
    rouge_threshold: float = field(default=0.7, metadata={
        "help": "drop a question whose ROUGE-L F1 with a kept one is at least this (Self-Instruct: 0.7)"})
    seed: int = 0


def _first_line(text: str, prefix: str) -> str:
    """The first non-empty line, without a leading ``prefix`` (``Question:``) or a final period."""
    line = next((l.strip() for l in text.splitlines() if l.strip()), "")
    return line.removeprefix(prefix).strip().rstrip(".").strip()


def teacher_prompts(tokenizer, sources: Sequence[Mapping], seeds: Sequence[Mapping],
                    config: SelfInstructConfig) -> list[str]:
    """One chat-rendered prompt per source asking for a question: seed examples, document, request.

    Args:
        tokenizer: the teacher's tokenizer (its chat template renders the prompt).
        sources: dicts with ``entity`` (who to ask about) and ``document`` (text that answers).
        seeds: human-written examples with ``prompt`` and ``completion``.
        config: ``num_examples`` seeds are drawn per prompt, seeded by ``config.seed``.

    Returns:
        Prompt strings, ready for generation with ``add_special_tokens=False``.
    """
    rng = random.Random(config.seed)
    prompts = []
    for source in sources:
        shown = rng.sample(list(seeds), min(config.num_examples, len(seeds)))
        examples = "\n".join(f"Question: {s['prompt']}\nAnswer: {s['completion']}" for s in shown)
        prompts.append(chat_prompt(tokenizer, INSTRUCTION.format(examples=examples, document=source["document"],
                                                           entity=source["entity"])))
    return prompts


def propose(teacher, tokenizer, sources: Sequence[Mapping], seeds: Sequence[Mapping],
            config: SelfInstructConfig) -> list[dict]:
    """Let the teacher write a question per source, then answer it from the source (both sampled).

    Two calls, as in Self-Instruct: instruction generation, then instance (answer) generation. The
    answer's reply is started with ``Answer:``, which keeps a small teacher from answering with a
    whole sentence more often than asking it to be brief does.

    Returns:
        One dict per source: ``entity``, ``document``, ``raw`` (the teacher's question text) and,
        where its first line is not empty, ``prompt`` (that line; ``filter_candidates`` checks
        that it is a question) and ``completion`` (the first line of the teacher's answer).
    """
    sampling = Sampling(config.temperature, config.top_p, config.seed)
    raws = completions(teacher, tokenizer, teacher_prompts(tokenizer, sources, seeds, config),
                       config.question_tokens, add_special_tokens=False, sampling=sampling)
    candidates = [{"entity": s["entity"], "document": s["document"], "raw": r.text}
                  for s, r in zip(sources, raws)]
    asked = [c for c in candidates if _first_line(c["raw"], "Question:")]
    answers = completions(teacher, tokenizer,
                          [chat_prompt(tokenizer, ANSWER.format(document=c["document"],
                                                          question=_first_line(c["raw"], "Question:")))
                           + "Answer:" for c in asked],
                          config.answer_tokens, add_special_tokens=False, sampling=sampling)
    for c, answer in zip(asked, answers):
        c |= {"prompt": _first_line(c["raw"], "Question:"), "completion": _first_line(answer.text, "Answer:")}
    return candidates


def _problem(candidate: Mapping, max_answer_words: int) -> str | None:
    """The first heuristic the candidate fails, or None."""
    if "prompt" not in candidate:
        return "no question written"
    question, answer = candidate["prompt"], candidate["completion"]
    if not question.endswith("?"):
        return "question does not end with '?'"
    if candidate["entity"] not in question:
        return "question does not name the person"
    if not answer or len(answer.split()) > max_answer_words:
        return f"answer empty or longer than {max_answer_words} words"
    words = normalize_text(answer)  # whole words of the text: "Ash" is not in "Ashgrove"
    if not words or f" {words} " not in f" {normalize_text(candidate['document'])} ":
        return "answer not in the source text"
    return None


def filter_candidates(candidates: Sequence[Mapping], pool: Sequence[Mapping],
                      config: SelfInstructConfig) -> tuple[list[dict], list[str | None]]:
    """Apply the heuristics, then ROUGE-L novelty against ``pool`` and everything kept before.

    Args:
        candidates: output of ``propose``.
        pool: examples already in the training set (the seeds), with ``prompt``.
        config: ``max_answer_words`` and ``rouge_threshold``.

    Returns:
        ``(kept, reasons)``: the kept pairs as ``{"entity", "prompt", "completion"}``, and one
        reason per candidate (None where it was kept), in the candidates' order.
    """
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    kept: list[dict] = []
    reasons: list[str | None] = []
    questions = [p["prompt"] for p in pool]
    for candidate in candidates:
        reason = _problem(candidate, config.max_answer_words)
        if reason is None:
            question = candidate["prompt"]
            if any(normalize_text(question) == normalize_text(q) for q in questions):
                reason = "duplicate question"
            elif any(scorer.score(q, question)["rougeL"].fmeasure >= config.rouge_threshold
                      for q in questions):
                reason = f"ROUGE-L >= {config.rouge_threshold} with a kept question"
        reasons.append(reason)
        if reason is None:
            kept.append({k: candidate[k] for k in ("entity", "prompt", "completion")})
            questions.append(candidate["prompt"])
    return kept, reasons


def survival(reasons: Sequence[str | None]) -> Counter:
    """How many candidates each filter dropped, and how many were ``"kept"``."""
    return Counter("kept" if r is None else r for r in reasons)
