import pytest

from sftlib.judges import judge_pairs, lm_judge

PAIRS = [{"question": "The capital of Peru?", "a": "Lima", "b": "Oslo", "better": "A"},
         {"question": "The capital of Norway?", "a": "Lima", "b": "Oslo", "better": "B"},
         {"question": "2 + 2?", "a": "4", "b": "5", "better": "A"}]


def test_a_perfect_judge_agrees_and_is_consistent():
    truth = {"The capital of Peru?": "Lima", "The capital of Norway?": "Oslo", "2 + 2?": "4"}
    report = judge_pairs(lambda q, a, b: "A" if a == truth[q] else "B", PAIRS)
    assert (report.agreement, report.consistent) == (1.0, 1.0)
    assert report.first_position == pytest.approx(0.5)
    assert report.verdicts[0] == ("A", "B")


def test_a_judge_that_always_picks_the_first_answer_is_caught():
    report = judge_pairs(lambda q, a, b: "A", PAIRS)
    assert report.first_position == 1.0 and report.consistent == 0.0 and report.agreement == 0.5


def test_bad_labels_and_bad_verdicts_are_refused():
    with pytest.raises(ValueError, match="pair 0 needs 'better'"):
        judge_pairs(lambda q, a, b: "A", [dict(PAIRS[0], better="a")])
    with pytest.raises(ValueError, match="answered 'yes' for pair 0"):
        judge_pairs(lambda q, a, b: "yes", PAIRS)
    with pytest.raises(ValueError, match="no pairs"):
        judge_pairs(lambda q, a, b: "A", [])


def test_lm_judge_returns_a_verdict_from_the_next_token(tiny):
    import torch

    model, tokenizer = tiny
    judge = lm_judge(model, tokenizer)
    verdict = judge("The capital of Peru?", "Lima", "Oslo")
    assert verdict in ("A", "B")
    # the verdict is the likelier of the two letters after the rendered prompt
    from sftlib.evaluate import chat_prompt
    from sftlib.judges import JUDGE_TEMPLATE

    prompt = chat_prompt(tokenizer, JUDGE_TEMPLATE.format(question="The capital of Peru?", a="Lima", b="Oslo"))
    with torch.no_grad():
        logits = model(**tokenizer(prompt, return_tensors="pt", add_special_tokens=False)).logits[0, -1]
    letter = lambda s: {tokenizer(t, add_special_tokens=False).input_ids[0] for t in (s, " " + s)}
    best = lambda s: logits.log_softmax(-1)[sorted(letter(s))].logsumexp(0)
    assert verdict == ("A" if best("A") >= best("B") else "B")


def test_likelihood_judge_prefers_the_answer_the_model_knows_and_ignores_position(tiny):
    from sftlib.judges import likelihood_judge

    model, tokenizer = tiny
    judge = likelihood_judge(model, tokenizer, render=lambda question: question)
    pairs = [{"question": "The capital of Peru is", "a": "Lima.", "b": "Oslo.", "better": "A"},
             {"question": "The capital of Norway is", "a": "Lima.", "b": "Oslo.", "better": "B"}]
    report = judge_pairs(judge, pairs)
    assert report.agreement == 1.0 and report.consistent == 1.0


def test_likelihood_judge_scores_the_answer_as_the_chat_template_writes_it(tiny, monkeypatch):
    import copy

    import sftlib.likelihood
    from sftlib.evaluate import chat_prompt
    from sftlib.judges import likelihood_judge
    from sftlib.templates import CHATML_TEMPLATE

    model, tokenizer = tiny
    scored = []

    def record(model, tokenizer, contexts, continuations, **kwargs):
        scored.append((contexts[0], continuations))
        return [(-1.0, 1), (-2.0, 1)]

    monkeypatch.setattr(sftlib.likelihood, "continuation_logprobs", record)
    chatml = copy.deepcopy(tokenizer)
    chatml.chat_template = CHATML_TEMPLATE  # the answer follows "assistant\n", with no space
    for tok, expected in ((tokenizer, [" Lima", " Oslo"]), (chatml, ["Lima", "Oslo"])):
        assert likelihood_judge(model, tok)("Capital of Peru?", "Lima", "Oslo") == "A"
        assert scored[-1] == (chat_prompt(tok, "Capital of Peru?"), expected)


def test_judge_pairs_names_a_pair_without_its_answers():
    with pytest.raises(ValueError, match="pair 1 needs a string 'b'"):
        judge_pairs(lambda q, a, b: "A", [{"question": "q", "a": "x", "b": "y", "better": "A"},
                                          {"question": "q", "a": "x", "better": "A"}])
