"""Pairwise judging, the protocol of AlpacaEval and MT-Bench's pairwise mode, with a swappable judge.

A judge is any callable ``judge(question, answer_a, answer_b) -> "A" | "B"``: a person's labels, a
rule, or a language model (``lm_judge``). ``judge_pairs`` asks it about every pair twice, once with
the answers swapped, so both its agreement with reference labels and its position bias are measured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Judge = Callable[[str, str, str], str]

JUDGE_TEMPLATE = ("Which answer to the question is correct?\n"
                  "Question: {question}\nAnswer A: {a}\nAnswer B: {b}\n"
                  "Reply with A or B.")


def lm_judge(model, tokenizer, template: str = JUDGE_TEMPLATE, chat: bool = True) -> Judge:
    """A judge that asks ``model`` and reads its preference between the tokens ``A`` and ``B``.

    The filled ``template`` is rendered with the tokenizer's chat template (``chat=True``) and the
    verdict is whichever of `` A``/``A`` and `` B``/``B`` is the more likely next token, so the
    verdict is deterministic and needs one forward pass, no generation.
    """
    import torch

    from sftlib.evaluate import chat_prompt

    def ids(letter: str) -> list[int]:
        found = {tokenizer(text, add_special_tokens=False).input_ids[0] for text in (letter, " " + letter)}
        return sorted(found)

    a_ids, b_ids = ids("A"), ids("B")

    @torch.no_grad()
    def judge(question: str, answer_a: str, answer_b: str) -> str:
        text = template.format(question=question, a=answer_a, b=answer_b)
        prompt = chat_prompt(tokenizer, text) if chat else text
        enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=not chat).to(model.device)
        logp = model(**enc).logits[0, -1].float().log_softmax(-1)
        return "A" if logp[a_ids].logsumexp(0) >= logp[b_ids].logsumexp(0) else "B"

    return judge


def likelihood_judge(model, tokenizer, render: Callable[[str], str] | None = None) -> Judge:
    """A judge that prefers the answer ``model`` finds more likely after the question.

    It scores each answer's mean log-probability per token as the continuation of the question,
    so it never sees the two answers side by side and cannot prefer a position. By default the
    question is the chat prompt and the answer is scored as the chat template writes an
    assistant turn (`` Lima`` after ``<|assistant|>`` for ``tiny``, ``Lima`` after ChatML's
    ``assistant\\n``), its end-of-turn left out; with ``render``, the answer is ``" " + answer``
    after ``render(question)``.
    """
    from sftlib.evaluate import chat_continuation
    from sftlib.likelihood import continuation_logprobs

    def scored(question: str, answer: str) -> tuple[str, str]:
        if render is not None:
            return render(question), " " + answer
        context, rest = chat_continuation(tokenizer, [{"role": "user", "content": question}],
                                          [{"role": "assistant", "content": answer}])
        return context, rest[: rest.index(answer) + len(answer)]  # without the end-of-turn

    def judge(question: str, answer_a: str, answer_b: str) -> str:
        (context, a), (_, b) = scored(question, answer_a), scored(question, answer_b)
        (lp_a, n_a), (lp_b, n_b) = continuation_logprobs(model, tokenizer, [context, context], [a, b],
                                                         add_special_tokens=False)
        return "A" if lp_a / n_a >= lp_b / n_b else "B"

    return judge


@dataclass
class JudgeReport:
    """How a judge did on pairs with known better answers (shares in [0, 1])."""

    agreement: float  # verdicts that match the reference, over both orders
    consistent: float  # pairs judged the same way in both orders
    first_position: float  # verdicts that chose whichever answer was shown first
    verdicts: list[tuple[str, str]]  # per pair: (original order, swapped order)


def judge_pairs(judge: Judge, pairs: list[dict]) -> JudgeReport:
    """Ask ``judge`` about each pair in both orders and compare with the reference.

    Args:
        pairs: records with ``question``, ``a``, ``b`` and ``better`` (``"A"`` or ``"B"``: which
            of ``a`` and ``b`` the reference prefers).

    Returns:
        A ``JudgeReport``. An unbiased judge has ``first_position`` near 0.5; a judge that only
        looks at the position has ``consistent`` 0.
    """
    if not pairs:
        raise ValueError("judge_pairs: no pairs given")
    flip = {"A": "B", "B": "A"}
    verdicts, agree, same, first = [], 0, 0, 0
    for n, pair in enumerate(pairs):
        missing = [key for key in ("question", "a", "b") if not isinstance(pair.get(key), str)]
        if missing:
            raise ValueError(f"judge_pairs: pair {n} needs a string {missing[0]!r}")
        if pair.get("better") not in flip:
            raise ValueError(f"judge_pairs: pair {n} needs 'better' = 'A' or 'B', got {pair.get('better')!r}")
        original = judge(pair["question"], pair["a"], pair["b"])
        swapped = judge(pair["question"], pair["b"], pair["a"])
        for verdict in (original, swapped):
            if verdict not in flip:
                raise ValueError(f"judge_pairs: the judge answered {verdict!r} for pair {n}; "
                                 "a judge must return 'A' or 'B'")
        verdicts.append((original, swapped))
        agree += (original == pair["better"]) + (flip[swapped] == pair["better"])
        same += original == flip[swapped]
        first += (original == "A") + (swapped == "A")
    n = len(pairs)
    return JudgeReport(agree / (2 * n), same / n, first / (2 * n), verdicts)
