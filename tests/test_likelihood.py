"""sftlib.likelihood: perplexity, continuation log-probabilities and multiple choice, each checked
against a computation by hand."""

import math

import pytest
import torch

from sftlib.likelihood import perplexity


def test_perplexity_matches_a_hand_computation(tiny):
    model, tokenizer = tiny
    texts = ["The capital of France is Paris.", "Peru lies in South America. It is big."]
    nll, count = 0.0, 0
    for text in texts:  # one at a time, no padding: the plain definition
        ids = tokenizer(text + tokenizer.eos_token, return_tensors="pt").input_ids
        with torch.no_grad():
            logp = model(ids).logits[0, :-1].log_softmax(-1)
        nll -= logp.gather(1, ids[0, 1:, None]).sum().item()
        count += ids.shape[1] - 1
    assert perplexity(model, tokenizer, texts, batch_size=2) == pytest.approx(math.exp(nll / count),
                                                                              rel=1e-4)


def test_document_logprobs_scores_each_text_as_perplexity_does(tiny):
    from sftlib.likelihood import document_logprobs

    model, tokenizer = tiny
    texts = ["The capital of France is Paris.", "Peru lies in South America. It is big.", "Lima"]
    by_hand = []
    for text in texts:  # one at a time, no padding: BOS, the text, EOS; all but BOS predicted
        ids = tokenizer(text + tokenizer.eos_token, return_tensors="pt").input_ids
        with torch.no_grad():
            logp = model(ids).logits[0, :-1].log_softmax(-1)
        by_hand.append((logp.gather(1, ids[0, 1:, None]).sum().item(), ids.shape[1] - 1))
    scored = document_logprobs(model, tokenizer, texts, batch_size=2)  # padded beside a longer text
    assert [n for _, n in scored] == [n for _, n in by_hand]
    assert [lp for lp, _ in scored] == pytest.approx([lp for lp, _ in by_hand], rel=1e-4)
    total = math.exp(-sum(lp for lp, _ in scored) / sum(n for _, n in scored))
    assert perplexity(model, tokenizer, texts, batch_size=2) == pytest.approx(total, rel=1e-12)
    with pytest.raises(ValueError, match="no texts"):
        document_logprobs(model, tokenizer, [])


def test_document_logprobs_without_a_bos_scores_from_the_second_token(tiny):
    import copy

    from sftlib.likelihood import continuation_logprobs, document_logprobs

    model, tokenizer = tiny
    no_bos = copy.deepcopy(tokenizer)
    no_bos.add_bos_token = False  # as SmolLM2's tokenizer: nothing before the text's first token
    texts = ["Peru lies in South America.", "Lima"]
    with pytest.raises(ValueError, match="context 0 has no tokens"):  # lesson 08's first try
        continuation_logprobs(model, no_bos, ["", ""], texts)
    by_hand = []
    for text in texts:
        ids = no_bos(text + no_bos.eos_token, return_tensors="pt").input_ids
        assert ids[0, 0] != tokenizer.bos_token_id
        with torch.no_grad():
            logp = model(ids).logits[0, :-1].log_softmax(-1)
        by_hand.append((logp.gather(1, ids[0, 1:, None]).sum().item(), ids.shape[1] - 1))
    scored = document_logprobs(model, no_bos, texts)
    assert [n for _, n in scored] == [n for _, n in by_hand]
    assert [lp for lp, _ in scored] == pytest.approx([lp for lp, _ in by_hand], rel=1e-4)


def test_continuation_logprobs_match_a_hand_computation(tiny):
    from sftlib.likelihood import continuation_logprobs

    model, tokenizer = tiny
    contexts, continuations = ["The capital of France is", "Peru"], [" Paris.", " lies in South America"]
    scored = continuation_logprobs(model, tokenizer, contexts, continuations, batch_size=2)
    for (logp, n), context, continuation in zip(scored, contexts, continuations):
        ctx = tokenizer(context).input_ids
        cont = tokenizer(continuation, add_special_tokens=False).input_ids
        with torch.no_grad():  # one pair alone, no padding
            all_logp = model(torch.tensor([ctx + cont])).logits[0].log_softmax(-1)
        hand = sum(all_logp[len(ctx) - 1 + k, t].item() for k, t in enumerate(cont))
        assert n == len(cont) and logp == pytest.approx(hand, abs=1e-4)
    with pytest.raises(ValueError, match="2 contexts but 1"):
        continuation_logprobs(model, tokenizer, contexts, continuations[:1])


def test_continuation_logprobs_split_a_batch_whose_logits_exceed_the_budget(tiny, monkeypatch):
    import sftlib.likelihood as likelihood
    from sftlib.likelihood import LOGITS_BUDGET, continuation_logprobs, logit_groups

    assert logit_groups([200] * 32, 49_152) == [slice(k, min(k + 6, 32)) for k in range(0, 32, 6)]
    assert logit_groups([500] * 32, 1_816) == [slice(0, 32)]  # the tiny model: one pass, as before
    assert logit_groups([40, 2 * LOGITS_BUDGET, 40], 1) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    model, tokenizer = tiny
    contexts = ["The capital of France is", "Peru", "A short one"]
    continuations = [" Paris.", " lies in South America", " here"]
    together = continuation_logprobs(model, tokenizer, contexts, continuations)
    calls = []

    def one_row_each(lengths, vocab_size):
        calls.append(len(lengths))
        return logit_groups(lengths, vocab_size, budget=1)

    monkeypatch.setattr(likelihood, "logit_groups", one_row_each)
    alone = continuation_logprobs(model, tokenizer, contexts, continuations)
    assert calls == [3] and [n for _, n in alone] == [n for _, n in together]
    assert [lp for lp, _ in alone] == pytest.approx([lp for lp, _ in together], abs=1e-4)


def test_multiple_choice_scores_mmlu_shaped_records(tiny):
    from sftlib import ROOT
    from sftlib.data import read_jsonl
    from sftlib.likelihood import continuation_logprobs, multiple_choice

    model, tokenizer = tiny
    items = read_jsonl(ROOT / "tests" / "fixtures" / "mmlu_shaped.jsonl")
    result = multiple_choice(model, tokenizer, items)
    for item, pick in zip(items, result["picks"]):  # the pick is the most likely option
        scores = continuation_logprobs(model, tokenizer, [item["question"]] * 4,
                                       [" " + c for c in item["choices"]])
        assert pick == max(range(4), key=lambda k: scores[k][0])
    assert result["accuracy"] == sum(p == it["answer"] for p, it in zip(result["picks"], items)) / 3
    assert result["accuracy"] == 1.0  # the tiny model knows these capitals and currencies
    per_char = [max(range(4), key=lambda k: continuation_logprobs(
        model, tokenizer, [it["question"]], [" " + it["choices"][k]])[0][0] / len(it["choices"][k]))
        for it in items]
    assert result["picks_norm"] == per_char
    assert result["accuracy_norm"] == sum(p == it["answer"] for p, it in zip(per_char, items)) / 3
    with pytest.raises(ValueError, match="item 0 lacks"):
        multiple_choice(model, tokenizer, [{"question": "q", "choices": ["a"]}])
    with pytest.raises(ValueError, match="not an index"):
        multiple_choice(model, tokenizer, [{"question": "q", "choices": ["a"], "answer": 1}])


def test_probe_choices_builds_mmlu_shaped_items_with_same_attribute_distractors():
    from sftlib.likelihood import probe_choices

    probes = [{"prompt": f"P{i} was born in", "answer": city, "attribute": "birth_city"}
              for i, city in enumerate(["Lima", "Oslo", "Rome", "Cairo", "Lima"])]
    probes.append({"prompt": "P9 works for", "answer": "Acme", "attribute": "employer"})
    items = probe_choices(probes[:5], num_choices=3, seed=1)
    assert items == probe_choices(probes[:5], num_choices=3, seed=1)
    for item, probe in zip(items, probes):
        assert item["question"] == probe["prompt"] and item["subject"] == "birth_city"
        assert item["choices"][item["answer"]] == probe["answer"]
        assert len(set(item["choices"])) == 3 and set(item["choices"]) <= {"Lima", "Oslo", "Rome", "Cairo"}
    with pytest.raises(ValueError, match=r"probe 5 \(employer\) has 0 other answers"):
        probe_choices(probes, num_choices=3)


def test_answer_perplexity_is_token_weighted_over_answers_only(tiny):
    from sftlib.likelihood import answer_perplexity, continuation_logprobs

    model, tokenizer = tiny
    contexts, answers = ["The capital of France is", "Olga Brandt was born in"], [" Paris.", " a city"]
    (lp1, n1), (lp2, n2) = continuation_logprobs(model, tokenizer, contexts, answers)
    assert answer_perplexity(model, tokenizer, contexts, answers) == pytest.approx(
        math.exp(-(lp1 + lp2) / (n1 + n2)))


def test_scoring_functions_refuse_empty_or_malformed_input_with_a_clear_error(tiny):
    from sftlib.likelihood import answer_perplexity, continuation_logprobs, multiple_choice

    model, tokenizer = tiny
    with pytest.raises(ValueError, match="perplexity: no texts"):
        perplexity(model, tokenizer, [])
    with pytest.raises(ValueError, match=r"text 2 is \d+ tokens with its EOS, more than max_length=8"):
        perplexity(model, tokenizer, ["Lima.", "Oslo.", "Lima is the capital of Peru, a country of the Andes."],
                   batch_size=2, max_length=8)  # cut, it would lose its EOS and its tail
    with pytest.raises(ValueError, match="no contexts given"):
        answer_perplexity(model, tokenizer, [], [])
    # without BOS an empty context leaves the continuation's first token nothing to follow
    with pytest.raises(ValueError, match="context 1 has no tokens"):
        continuation_logprobs(model, tokenizer, ["Lima is", ""], [" a city", " x"], add_special_tokens=False)
    item = {"question": "The capital of Peru is", "choices": ["Lima", "Oslo"], "answer": 0}
    with pytest.raises(ValueError, match="no items"):
        multiple_choice(model, tokenizer, [])
    for bad in ({"choices": "Lima"}, {"choices": ["Lima", ""]}, {"answer": True}, {"answer": 0.0}):
        with pytest.raises(ValueError, match="item 1"):
            multiple_choice(model, tokenizer, [item, {**item, **bad}])
