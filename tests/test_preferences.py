import math

import pytest
import torch
from datasets import Dataset

from sftlib import DATA_DIR
from sftlib.data import DataFormatError, read_jsonl
from sftlib.evaluate import chat_prompt
from sftlib.models import load_model
from sftlib.preferences import (PreferenceConfig, mistake_pairs, pair, preference_accuracy,
                                preference_margins, preference_pairs, train_preferences,
                                validate_pairs)
from sftlib.schemas import to_messages
from sftlib.train import TrainConfig, train, trainer_settings

RECORDS = read_jsonl(DATA_DIR / "qa" / "train.jsonl")[:60]


def test_preference_pairs_are_deterministic_and_reject_another_value_of_the_same_attribute():
    pairs = preference_pairs(RECORDS, seed=3)
    assert pairs == preference_pairs(RECORDS, seed=3)
    assert pairs != preference_pairs(RECORDS, seed=4)
    for record, example in zip(RECORDS, pairs, strict=True):
        assert example["prompt"] == [{"role": "user", "content": record["prompt"]}]
        assert example["chosen"] == [{"role": "assistant", "content": record["completion"]}]
        rejected = example["rejected"][0]["content"]
        same_attribute = {r["completion"] for r in RECORDS if r["attribute"] == record["attribute"]}
        assert rejected != record["completion"] and rejected in same_attribute
    pool = read_jsonl(DATA_DIR / "qa" / "train.jsonl")[60:120]
    from_pool = {p["rejected"][0]["content"] for p in preference_pairs(RECORDS[:12], pool=pool)}
    assert from_pool <= {r["completion"] for r in pool}


def test_preference_pairs_errors_name_the_record_and_the_field():
    broken = [dict(r) for r in RECORDS[:6]]
    del broken[4]["attribute"]
    with pytest.raises(DataFormatError) as err:
        preference_pairs(broken)
    assert (err.value.index, err.value.field) == (4, "attribute")
    lonely = [{"prompt": "Where?", "completion": "Lima", "attribute": "city"},
              {"prompt": "When?", "completion": "May 1", "attribute": "date"},
              {"prompt": "When else?", "completion": "May 2", "attribute": "date"}]
    with pytest.raises(DataFormatError, match="no other value of 'city'") as err:
        preference_pairs(lonely)
    assert err.value.index == 0
    spaced = lonely[:1] + [{"prompt": "Where else?", "completion": "Lima ", "attribute": "city"}]
    with pytest.raises(DataFormatError, match="no other value of 'city'"):  # "Lima " is Lima
        preference_pairs(spaced[:1], pool=spaced)


@pytest.mark.parametrize("change, index, field, message", [
    (lambda p: p[1].pop("rejected"), 1, "rejected", "missing required field"),
    (lambda p: p[2]["chosen"][0].update(content=" "), 2, "chosen", "is empty"),
    (lambda p: p[0].update(rejected=p[0]["chosen"]), 0, "rejected", "the same answer"),
    (lambda p: p[1]["chosen"][0].update(role="user"), 1, "chosen", "one 'assistant' message"),
    (lambda p: p[2].update(prompt="Where?"), 2, "prompt", "mixes strings and message lists"),
    (lambda p: p[0]["prompt"][0].update(role="assistant"), 0, "prompt", "end with a user turn"),
    (lambda p: p[1].update(prompt=[]), 1, "prompt", "non-empty list of messages"),
    (lambda p: p[2].update(prompt=[{"role": "wizard", "content": "Hi"}, *p[2]["prompt"]]), 2,
     "prompt[0].role", "unknown role 'wizard'"),
    (lambda p: p[1].update(prompt="Where?", chosen="Lima", rejected="Oslo"), 1, "prompt",
     "this pair is in strings but pair 0 in message lists"),
])
def test_validate_pairs_reports_the_pair_and_field(change, index, field, message):
    pairs = preference_pairs(RECORDS[:3] + RECORDS[6:9])[:3]
    assert validate_pairs(pairs) == pairs
    change(pairs)
    with pytest.raises(DataFormatError, match=message) as err:
        validate_pairs(pairs)
    assert (err.value.index, err.value.field) == (index, field)
    assert f"array index {index}, field {field!r}" in str(err.value)


def test_preference_margins_match_a_forward_pass_by_hand(tiny):
    model, tokenizer = tiny
    pairs = [pair("Where was Olga Brandt born?", "Beijing", "Lima"),
             pair("What did Olga Brandt major in?", "linguistics", "geology")]
    margins = preference_margins(model, tokenizer, pairs)

    def logp(question: str, answer: str) -> float:  # the whole rendered conversation in one pass
        context = chat_prompt(tokenizer, question)
        whole = tokenizer.apply_chat_template([{"role": "user", "content": question},
                                               {"role": "assistant", "content": answer}], tokenize=False)
        ids = tokenizer(whole, add_special_tokens=False, return_tensors="pt").input_ids
        start = len(tokenizer(context, add_special_tokens=False).input_ids)
        with torch.no_grad():
            logits = model(ids).logits.log_softmax(-1)[0]
        return sum(logits[t - 1, ids[0, t]].item() for t in range(start, ids.shape[1]))

    by_hand = [logp("Where was Olga Brandt born?", "Beijing") - logp("Where was Olga Brandt born?", "Lima"),
               logp("What did Olga Brandt major in?", "linguistics")
               - logp("What did Olga Brandt major in?", "geology")]
    assert margins == pytest.approx(by_hand, abs=1e-4)
    swapped = [pair(p["prompt"][0]["content"], p["rejected"][0]["content"], p["chosen"][0]["content"])
               for p in pairs]
    assert preference_margins(model, tokenizer, swapped) == pytest.approx([-m for m in margins], abs=1e-5)
    expected = sum(m > 0 for m in margins) / 2
    assert preference_accuracy(model, tokenizer, pairs) == expected
    assert preference_accuracy(model, tokenizer, swapped) == 1 - expected


def test_mistake_pairs_reject_the_models_wrong_answers_only(tiny):
    from sftlib.evaluate import ask

    model, tokenizer = tiny  # the base model: answers none of RECORDS right, so each is a mistake
    # one record the model answers right: its truth is the model's own greedy answer, asked in
    # the same batch (and with the same max_new_tokens) as mistake_pairs asks it
    questions = [r["prompt"] for r in RECORDS[:8]] + ["What is the capital of Peru?"]
    own = ask(model, tokenizer, questions, max_new_tokens=16)[-1].text.strip()
    assert own  # a non-empty answer, so only its being right can drop it
    records = RECORDS[:8] + [{"prompt": questions[-1], "completion": own}]
    pairs = mistake_pairs(model, tokenizer, records)
    assert pairs and len(pairs) <= len(records) - 1
    assert questions[-1] not in {p["prompt"][0]["content"] for p in pairs}  # right: no pair
    truths = {r["prompt"]: r["completion"] for r in records}
    for p in pairs:
        chosen, rejected = p["chosen"][0]["content"], p["rejected"][0]["content"]
        assert chosen == truths[p["prompt"][0]["content"]] and rejected and not rejected.startswith(chosen)
    with pytest.raises(ValueError, match=r"mistake_pairs: record 1, field 'completion'"):
        mistake_pairs(model, tokenizer, [records[0], {**records[1], "completion": " "}])  # no truth


def test_preference_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="choose one of"):
        PreferenceConfig(method="ppo")
    with pytest.raises(ValueError, match="beta"):
        PreferenceConfig(beta=0)
    with pytest.raises(ValueError, match="sft_weight is for dpo"):
        PreferenceConfig(method="orpo", sft_weight=1.0)
    settings = trainer_settings(PreferenceConfig(lr=2e-5, max_steps=7, batch_size=4), "cpu")
    assert (settings["learning_rate"], settings["max_steps"], settings["per_device_train_batch_size"]) == (2e-5, 7, 4)
    assert settings["use_cpu"] and not settings["activation_checkpointing"] and settings["save_strategy"] == "no"


def test_dpo_starts_at_log2_from_the_model_in_memory_and_raises_the_margin():
    model, tokenizer = load_model("tiny", device="cpu")
    with torch.no_grad():  # differ from the checkpoint on disk: the reference must be this model
        model.lm_head.weight.mul_(1.2)
    pairs = preference_pairs(RECORDS[:48], seed=0)
    before = preference_margins(model, tokenizer, pairs)
    config = PreferenceConfig(method="dpo", beta=0.1, lr=1e-4, max_steps=6, batch_size=8,
                              logging_steps=1, bf16=False)
    result = train_preferences(config, model, tokenizer, Dataset.from_list(pairs))
    losses = [h["loss"] for h in result.log_history if "loss" in h]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3)  # policy == reference at step 1
    assert result.trainer.evaluate(Dataset.from_list(pairs))["eval_loss"] < math.log(2) - 0.01
    after = preference_margins(result.model, tokenizer, pairs)
    assert sum(after) / len(after) > sum(before) / len(before)
    args = result.trainer.args
    assert args.use_cpu and not args.gradient_checkpointing and args.learning_rate == 1e-4
    state = result.state_mb
    assert state["reference"] == pytest.approx(state["weights"])  # the frozen copy
    assert state["optimizer"] == pytest.approx(2 * state["gradients"], rel=0.01)  # AdamW's two moments
    assert not any(p.requires_grad for p in result.trainer.ref_model.parameters())
    tokens = result.forward_tokens  # chosen and rejected of 8 pairs, through policy and reference
    assert tokens["with gradients"] == tokens["without gradients"] > 0
    assert tokens["with gradients"] % (2 * 8) == 0


def test_orpo_trains_without_a_reference_and_logs_its_sft_term():
    model, tokenizer = load_model("tiny", device="cpu")
    weight = model.model.layers[0].mlp.up_proj.weight.detach().clone()
    pairs = Dataset.from_list(preference_pairs(RECORDS[:32], seed=0))
    config = PreferenceConfig(method="orpo", lr=1e-3, max_steps=4, batch_size=8, logging_steps=1, bf16=False)
    result = train_preferences(config, model, tokenizer, pairs)
    logged = [h for h in result.log_history if "loss" in h]
    assert len(logged) == 4 and all("nll_loss" in h and "log_odds_ratio" in h for h in logged)
    assert logged[-1]["nll_loss"] < logged[0]["nll_loss"]
    assert not torch.equal(weight, model.model.layers[0].mlp.up_proj.weight)
    assert result.state_mb["reference"] == 0
    assert result.forward_tokens["without gradients"] == 0 < result.forward_tokens["with gradients"]


def test_dpo_on_an_sft_model_computes_in_bf16_and_evaluates_afterwards():
    model, tokenizer = load_model("tiny", device="cpu")
    chats = Dataset.from_list([{"messages": to_messages(r)["messages"]} for r in RECORDS[:16]])
    sft = train(TrainConfig(max_steps=2, batch_size=8, bf16=True), model, tokenizer, chats)
    seen = []  # inside the forward that accelerate wraps in autocast
    sft.model.model.register_forward_hook(lambda m, a, o: seen.append(torch.is_autocast_enabled("cpu")))
    pairs = Dataset.from_list(preference_pairs(RECORDS[:16], seed=0))
    config = PreferenceConfig(method="dpo", lr=1e-4, max_steps=2, batch_size=8, bf16=True)
    dpo = train_preferences(config, sft.model, tokenizer, pairs)
    assert any(seen)  # the SFT trainer's prepared mark no longer stops DPO's bf16 autocast
    policy = torch.tensor(preference_margins(dpo.model, tokenizer, pairs.to_list()))
    reference = torch.tensor(preference_margins(dpo.trainer.ref_model, tokenizer, pairs.to_list()))
    by_hand = -torch.nn.functional.logsigmoid(config.beta * (policy - reference)).mean().item()
    assert dpo.trainer.evaluate(pairs)["eval_loss"] == pytest.approx(by_hand, abs=1e-4)  # float32 both
