"""Self-Instruct's prompt, parsing and filters (lesson 09)."""

from __future__ import annotations

from sftlib.self_instruct import SelfInstructConfig, filter_candidates, propose, survival, teacher_prompts

DOC = "Ada Upton was born in Mexico City. She studied law at Ashgrove University."
SEEDS = [{"prompt": "In which city was Olga Brandt born?", "completion": "Beijing"},
         {"prompt": "What did Olga Brandt major in?", "completion": "physics"}]


def candidate(question: str, answer: str) -> dict:
    return {"entity": "Ada Upton", "document": DOC, "raw": question, "prompt": question, "completion": answer}


def test_filters_give_one_reason_per_candidate_and_keep_only_grounded_novel_questions():
    candidates = [
        candidate("Where did Ada Upton study?", "Ashgrove University"),            # kept
        {"entity": "Ada Upton", "document": DOC, "raw": ""},                        # no question
        candidate("Where did Ada Upton study", "Ashgrove University"),             # no '?'
        candidate("Where did she study?", "Ashgrove University"),                  # no name
        candidate("What is Ada Upton known for?", "her long career in the law courts of the city"),
        candidate("Where does Ada Upton work?", "Lumen Telecom"),                  # not in text
        candidate("Where did Ada Upton study?", "Ashgrove University"),            # duplicate
        candidate("In which city was Ada Upton born?", "Mexico City"),             # ROUGE-L 0.71 vs a seed
        candidate("What was Ada Upton's major?", "law"),                             # kept
    ]
    kept, reasons = filter_candidates(candidates, SEEDS, SelfInstructConfig())
    assert [k["prompt"] for k in kept] == ["Where did Ada Upton study?", "What was Ada Upton's major?"]
    assert reasons[0] is None and reasons[8] is None
    assert reasons[1] == "no question written"
    assert reasons[2] == "question does not end with '?'"
    assert reasons[3] == "question does not name the person"
    assert reasons[4].startswith("answer empty or longer than 6 words")
    assert reasons[5] == "answer not in the source text"
    assert reasons[6] == "duplicate question"
    assert reasons[7] == "ROUGE-L >= 0.7 with a kept question"
    assert survival(reasons)["kept"] == 2 and sum(survival(reasons).values()) == 9
    # a looser novelty threshold keeps the question that resembles a seed
    kept_loose, _ = filter_candidates(candidates, SEEDS, SelfInstructConfig(rouge_threshold=0.95))
    assert len(kept_loose) == 3


def test_the_grounding_filter_wants_whole_words_of_the_text():
    questions = ["Where did Ada Upton study?", "What did Ada Upton study?", "Which city, Ada Upton?"]
    pieces = [candidate(q, answer) for q, answer in zip(questions, ["Ash", "?", "mexico city"])]
    _, reasons = filter_candidates(pieces, SEEDS, SelfInstructConfig(rouge_threshold=1.0))
    assert reasons[:2] == ["answer not in the source text"] * 2  # part of "Ashgrove"; no word at all
    assert reasons[2] is None  # case and punctuation aside, the words are in the text


def test_teacher_prompts_show_seeds_and_document_and_propose_parses_or_records_raw(tiny):
    model, tokenizer = tiny
    sources = [{"entity": "Ada Upton", "document": DOC}] * 2
    config = SelfInstructConfig(num_examples=1, question_tokens=6, answer_tokens=3)
    prompts = teacher_prompts(tokenizer, sources, SEEDS, config)
    assert len(prompts) == 2 and all(DOC in p and "Ada Upton" in p for p in prompts)
    assert all(("Olga Brandt" in p) for p in prompts)
    assert prompts == teacher_prompts(tokenizer, sources, SEEDS, config)  # seeded
    candidates = propose(model, tokenizer, sources, SEEDS, config)
    assert [c["entity"] for c in candidates] == ["Ada Upton"] * 2
    assert any("prompt" in c for c in candidates)  # at least one parsed: the loop checks something
    for c in candidates:  # a question is the raw text's first line; the answer is the second call's
        assert ("prompt" in c) == bool(c["raw"].strip())
        assert "prompt" not in c or (c["prompt"] in c["raw"] and "\n" not in c["prompt"] + c["completion"])
    assert candidates == propose(model, tokenizer, sources, SEEDS, config)  # sampling is seeded


def test_first_line_strips_prefix_and_final_period():
    from sftlib.self_instruct import _first_line

    assert _first_line("\n Question: Where did Ada study?\nAnswer: law", "Question:") == "Where did Ada study?"
    assert _first_line("Answer: Mexico City.\nmore", "Answer:") == "Mexico City"
    assert _first_line("  \n", "Answer:") == ""
