import pytest
from datasets import Dataset

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.forgetting import (Experiment, KnowledgeSet, as_text_pair, knowledge,
                               knowledge_tracker, pull_to_base_callback,
                               with_replay)
from sftlib.models import load_model
from sftlib.schemas import to_messages
from sftlib.templates import CHATML_TEMPLATE, IGNORE_INDEX, tokenize_chat
from sftlib.train import TrainConfig, train


def _pairs(tokenizer, n=32):
    records = read_jsonl(DATA_DIR / "triage" / "train.jsonl")[:n]
    return [as_text_pair(to_messages(r)["messages"], tokenizer) for r in records]


@pytest.mark.parametrize("layout", ["tiny", "chatml"])
def test_text_pair_trains_exactly_the_tokens_of_the_chat_mask(tiny, chatml_tokenizer, layout):
    from trl import SFTTrainer
    from sftlib.train import sft_config

    model, tokenizer = tiny
    tokenizer = tokenizer if layout == "tiny" else chatml_tokenizer
    records = read_jsonl(DATA_DIR / "triage" / "train.jsonl")[:20]
    pairs = [as_text_pair(to_messages(r)["messages"], tokenizer) for r in records]
    args = sft_config(TrainConfig(max_steps=1, assistant_only_loss=False, completion_only_loss=True), "cpu")
    prepared = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(pairs),
                          processing_class=tokenizer).train_dataset
    for record, row in zip(records, prepared):
        chat = tokenize_chat(to_messages(record)["messages"], tokenizer)
        n = len(row["input_ids"])  # ChatML's newline after <|im_end|> is in no pair and never trained
        assert row["input_ids"] == chat["input_ids"][:n] and row["labels"] == chat["labels"][:n]
        assert set(chat["labels"][n:]) <= {IGNORE_INDEX} and (n == len(chat["labels"])) == (layout == "tiny")


def test_text_pair_keeps_a_chatml_prompt_whole_and_names_a_missing_end(chatml_tokenizer):
    tokenizer = chatml_tokenizer
    messages = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]
    pair = as_text_pair(messages, tokenizer)
    assert pair == {"prompt": "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n", "completion": "A."}
    tokenizer.chat_template = CHATML_TEMPLATE.replace("+ '<|im_end|>' }}{%- endgeneration", "}}{%- endgeneration")
    with pytest.raises(ValueError, match=r"end the answer in EOS '<\|im_end\|>'; the conversation ends .*A\.\\n"):
        as_text_pair(messages, tokenizer)


def _key(row: dict[str, str]) -> tuple:
    """A row as a sortable value, so lists of rows compare as multisets."""
    return tuple(sorted(row.items()))


def test_with_replay_mixes_the_asked_share_and_refuses_impossible_mixes(tiny):
    pairs = _pairs(tiny[1], 30)
    docs = [f"document {i}" for i in range(20)]
    mixed = with_replay(pairs, docs, 0.25, seed=1)
    replayed = [r for r in mixed if r["prompt"] == ""]
    assert len(mixed) == 40 and len(replayed) == 10 and all(r["completion"] in docs for r in replayed)
    assert with_replay(pairs, docs, 0.25, seed=1) == mixed
    unmixed = with_replay(pairs, docs, 0.0)  # no replay: the pairs alone, in some order
    assert not [r for r in unmixed if r["prompt"] == ""]
    assert sorted(map(_key, unmixed)) == sorted(map(_key, pairs))
    assert sorted(map(_key, mixed)) == sorted(map(_key, pairs + replayed))  # every pair kept
    with pytest.raises(ValueError, match="needs 30 documents"):
        with_replay(pairs, docs, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        with_replay(pairs, docs, 1.0)


def test_knowledge_is_scored_on_the_base_model(tiny):
    model, tokenizer = tiny
    known = KnowledgeSet.load(people=30, countries=20, texts=8)
    assert (len(known.people), len(known.countries), len(known.texts)) == (30, 20, 8)
    scores = knowledge(model, tokenizer, known)
    assert scores["people"] > 0.9 and scores["countries"] > 0.9 and 1 < scores["perplexity"] < 3


def test_known_by_keeps_only_what_the_model_answers_and_empty_sets_score_nan(tiny):
    model, tokenizer = tiny
    real = read_jsonl(DATA_DIR / "probes" / "people.jsonl")[:6]
    invented = read_jsonl(DATA_DIR / "probes" / "invented.jsonl")[:6]  # never in pretraining
    known = KnowledgeSet(real + invented, [], ["The capital of Peru is Lima."]).known_by(model, tokenizer)
    assert known.people == real and known.countries == [] and known.texts == ["The capital of Peru is Lima."]
    scores = knowledge(model, tokenizer, known)
    assert scores["people"] == 1.0 and scores["countries"] != scores["countries"]  # NaN


def _distance_from_base(strength):
    model, tokenizer = load_model("tiny", device="cpu")
    base = [p.detach().clone() for p in model.parameters()]
    extra = [pull_to_base_callback(strength)] if strength else []
    train(TrainConfig(lr=1e-3, max_steps=6, batch_size=8, bf16=False), model, tokenizer,
          Dataset.from_list(_pairs(tokenizer)), extra_callbacks=extra)
    return sum((p - b).norm() ** 2 for p, b in zip(model.parameters(), base)).sqrt().item()


def test_pull_to_base_keeps_weights_closer_to_the_base_model():
    assert _distance_from_base(300.0) < 0.8 * _distance_from_base(0.0)


def test_experiment_trains_each_config_once_and_tracker_scores_during_training():
    loads = []

    def load(config):
        loads.append(config.seed)
        return load_model("tiny", device="cpu")

    tokenizer = load_model("tiny")[1]
    known = KnowledgeSet.load(people=10, countries=10, texts=4)
    experiment = Experiment(load, Dataset.from_list(_pairs(tokenizer)), lambda m: 0.5, known,
                            scores={"layers": lambda m: len(m.model.layers)})
    config = TrainConfig(lr=3e-4, max_steps=4, batch_size=8, logging_steps=2, bf16=False)
    first = experiment.over_seeds(config, seeds=(0, 1))
    again = experiment.over_seeds(config, seeds=(0, 1))
    assert first == again and loads == [0, 1]
    assert first["learned"] == 0.5 and first["people min"] <= first["people"] <= first["people max"]
    assert first["layers"] == len(load_model("tiny")[0].model.layers)

    tracker = knowledge_tracker(tokenizer, known, every=2)
    model, _ = load_model("tiny", device="cpu")
    train(config, model, tokenizer, Dataset.from_list(_pairs(tokenizer)), extra_callbacks=[tracker])
    assert [h["step"] for h in tracker.history] == [0, 2, 4]


def test_knowledge_set_refuses_more_probes_than_the_files_hold():
    with pytest.raises(ValueError, match=r"500 countries asked of .*countries.jsonl, which holds 67"):
        KnowledgeSet.load(people=1, countries=500, texts=1)
    with pytest.raises(ValueError, match=r"68 countries asked"):  # one probe per country at most
        KnowledgeSet.load(people=1, countries=68, texts=1)
    with pytest.raises(ValueError, match=r"5000 texts asked of .*heldout.jsonl"):
        KnowledgeSet.load(people=1, countries=1, texts=5000)
    assert len(KnowledgeSet.load(people=3, countries=2, texts=1).countries) == 2


@pytest.mark.parametrize("countries", [67, 20, 8])
def test_knowledge_set_probes_each_country_once_and_every_fact_about_equally(countries):
    probes = KnowledgeSet.load(people=0, countries=countries, texts=0).countries
    assert len(probes) == len({p["entity"] for p in probes}) == countries
    facts = [sum(p["attribute"] == a for p in probes) for a in ("capital", "continent", "currency", "language")]
    assert max(facts) - min(facts) <= 1
