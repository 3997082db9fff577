"""sftlib.evaluate: generated completions and answers, probes, and when an accuracy gap is real."""

import pytest

from sftlib.evaluate import answer_continuations, answer_skew, chat_prompt, complete, probe_accuracy


def test_complete_and_probe_accuracy(tiny):
    model, tokenizer = tiny
    probes = [{"prompt": "The capital of France is", "answer": "Paris"},
              {"prompt": "The capital of Peru is", "answer": "Lima"}]
    outs = complete(model, tokenizer, [p["prompt"] for p in probes], max_new_tokens=3)
    assert len(outs) == 2 and all(isinstance(o, str) for o in outs)
    wrong = [dict(p, answer="Zzyzx") for p in probes]
    assert probe_accuracy(model, tokenizer, wrong) == 0.0
    assert probe_accuracy(model, tokenizer, probes) == 1.0
    with pytest.raises(ValueError, match="no probes"):
        probe_accuracy(model, tokenizer, [])


def test_completions_report_length_and_stop(tiny):
    from sftlib.evaluate import completions

    model, tokenizer = tiny
    outs = completions(model, tokenizer, ["The capital of France is", "Peru"], max_new_tokens=4)
    for c in outs:  # a continuation ends at EOS or at the limit, never earlier
        assert c.num_tokens == 4 or (c.stopped and c.num_tokens < 4)
    assert outs[0].text == complete(model, tokenizer, ["The capital of France is"], 4)[0]


def test_sampling_is_seeded_and_stop_at_eos_can_be_turned_off(tiny):
    from sftlib.evaluate import Sampling, completions

    model, tokenizer = tiny
    prompts = ["Olga Brandt was born in", "The capital of Peru is"] * 4
    hot = Sampling(temperature=2.0, seed=3)
    first = completions(model, tokenizer, prompts, max_new_tokens=6, sampling=hot)
    assert first == completions(model, tokenizer, prompts, max_new_tokens=6, sampling=hot)
    others = [completions(model, tokenizer, prompts, max_new_tokens=6, sampling=Sampling(2.0, seed=s))
              for s in range(3)]
    assert len({tuple(c.text for c in run) for run in others}) > 1  # seeds give different samples
    # the base model ends a country paragraph with EOS well within 80 tokens
    stopped = completions(model, tokenizer, ["The capital of Peru is"], max_new_tokens=80)[0]
    assert stopped.stopped and stopped.num_tokens < 80
    running = completions(model, tokenizer, ["The capital of Peru is"], max_new_tokens=80,
                          stop_at_eos=False)[0]
    assert running.stopped and running.num_tokens == 80 and running.text.startswith(stopped.text)
    assert len(running.text) > len(stopped.text)
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=0)


def test_ask_renders_questions_with_the_chat_template_and_score_answers_uses_it(tiny):
    from sftlib.evaluate import ask, chat_prompt, completions, score_answers

    model, tokenizer = tiny
    questions = ["When was Olga Brandt born?", "What is the capital of Peru?"]
    asked = ask(model, tokenizer, questions, max_new_tokens=5)
    direct = completions(model, tokenizer, [chat_prompt(tokenizer, q) for q in questions], 5,
                         add_special_tokens=False)
    assert asked == direct
    records = [{"prompt": q, "completion": a.text.strip()} for q, a in zip(questions, asked)]
    scored = score_answers(model, tokenizer, records, max_new_tokens=5)
    assert scored["accuracy"] == 1.0 and scored["exact"] == 1.0 and scored["example"] == asked[0].text


def test_score_answers_accuracy_ignores_spaces_around_the_expected_answer(tiny):
    from sftlib.evaluate import score_answers

    model, tokenizer = tiny
    plain = [{"prompt": "The capital of Peru is", "completion": "Lima"}]
    spaced = [{"prompt": "The capital of Peru is", "completion": " Lima "}]
    score = lambda records: score_answers(model, tokenizer, records, render=lambda q: q,
                                          add_special_tokens=True, max_new_tokens=4)
    assert score(plain)["accuracy"] == 1.0  # the tiny model knows it
    assert score(spaced)["accuracy"] == score(plain)["accuracy"]


def test_clearly_better_asks_for_more_than_noise_on_the_number_of_questions():
    from sftlib.evaluate import clearly_better

    assert clearly_better(0.60, 0.45, 150) and not clearly_better(0.60, 0.55, 150)
    assert clearly_better(0.60, 0.55, 2000)  # the same 5 points are clear on many more questions
    assert not clearly_better(0.45, 0.60, 150)  # one-sided: a must be the larger
    assert not clearly_better(0.5, 0.5, 10**6)
    # 0.7 against 0.5 on 100 questions: the difference's standard error is sqrt(0.46 / 100) = 0.068,
    # so 20 points are 2.95 standard errors: clear at z=2, not at z=3
    assert clearly_better(0.7, 0.5, 100, z=2) and not clearly_better(0.7, 0.5, 100, z=3)
    with pytest.raises(ValueError, match="number of questions"):
        clearly_better(0.6, 0.4, 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        clearly_better(60, 40, 150)


def test_expected_answers_refuse_a_blank_or_missing_answer():
    from sftlib.evaluate import expected_answers

    rows = [{"prompt": "Q?", "completion": " Lima "}, {"prompt": "Q2?", "completion": "  "}]
    assert expected_answers(rows[:1], "prompt", "completion", "score_answers") == ["Lima"]
    with pytest.raises(ValueError, match=r"score_answers: record 1, field 'completion': '  '"):
        expected_answers(rows, "prompt", "completion", "score_answers")  # every answer starts with ""
    with pytest.raises(ValueError, match=r"probe_hits: record 0, field 'answer': missing"):
        expected_answers([{"prompt": "Ada was born in"}], "prompt", "answer", "probe_hits")


def test_answer_skew_compares_the_favourite_answer_with_the_data_and_the_truth():
    training = ([{"attribute": "city", "completion": c} for c in ("Oslo", "Rome", "Lima", "Pune") * 5]
                + [{"attribute": "year", "completion": "1990"}] * 3 + [{"attribute": "year", "completion": "1991"}])
    questions = ([{"attribute": "year", "completion": "1991"}]
                 + [{"attribute": "city", "completion": c} for c in ("Oslo", "Rome", "Lima", "Pune")])
    rows = answer_skew(questions, ["1990", " Rome ", "Rome", "Rome", "Lima"], training)
    year, city = rows  # attributes in order of first appearance
    assert year == {"attribute": "year", "questions": 1, "values in training": 2, "top answer": "1990",
                    "model share": 1.0, "truth share": 0.0, "training share": 0.75, "truths' top share": 1.0,
                    "distinct answers": 1, "distinct truths": 1}
    assert (city["top answer"], city["model share"], city["truth share"], city["training share"]) == \
        ("Rome", 0.75, 0.25, 0.25)  # " Rome " counts as Rome: answers are compared stripped
    assert city["truths' top share"] == 0.25  # four cities, one question each
    assert (city["distinct answers"], city["distinct truths"], city["values in training"]) == (2, 4, 4)
    tie = answer_skew(questions[1:3], ["Rome", "Oslo"], training)[0]
    assert tie["top answer"] == "Rome"  # a tie goes to the first answer given


def test_answer_skew_names_what_is_missing():
    questions = [{"attribute": "city", "completion": "Oslo"}]
    with pytest.raises(ValueError, match="2 answers for 1 questions"):
        answer_skew(questions, ["Oslo", "Rome"], questions)
    with pytest.raises(ValueError, match="no training records with attribute 'city'"):
        answer_skew(questions, ["Oslo"], [{"attribute": "year", "completion": "1990"}])
    with pytest.raises(KeyError, match="training record 0 has no field 'completion'"):
        answer_skew(questions, ["Oslo"], [{"attribute": "city"}])


QA = [{"id": "q1", "prompt": "When was Ada born?", "completion": "May 1, 1990"},
      {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of Peru?"},
                    {"role": "assistant", "content": "Lima"}]}]


def test_answer_continuations_cut_each_answer_where_the_template_puts_it(tiny, chatml_tokenizer):
    tokenizer = tiny[1]
    contexts, answers = answer_continuations(tokenizer, QA)
    assert contexts[0] == chat_prompt(tokenizer, "When was Ada born?")
    assert answers == [" May 1, 1990</s>", " Lima</s>"] and "Be brief." in contexts[1]
    contexts, answers = answer_continuations(chatml_tokenizer, QA)  # SmolLM2's layout: no space, a newline
    assert answers == ["May 1, 1990<|im_end|>\n", "Lima<|im_end|>\n"]
    assert contexts[0].endswith("<|im_start|>assistant\n")


def test_answer_continuations_name_a_record_that_does_not_end_with_an_answer(tiny):
    asks = {"id": "q9", "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hi."},
                                     {"role": "user", "content": "Bye?"}]}
    with pytest.raises(ValueError, match=r"record 2 \(q9\): field 'messages\[2\].role': the conversation must end with 'assistant'"):
        answer_continuations(tiny[1], [QA[0], asks])
