import copy
import dataclasses
from pathlib import Path

import pytest
import torch
from datasets import Dataset

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.models import load_model, supports_bf16
from sftlib.schemas import to_messages
from sftlib.templates import tokenize_chat
from sftlib.train import TrainConfig, apply_answer_weights, sft_config, sft_trainer, train


def test_sft_config_is_cpu_safe_and_follows_the_config():
    cfg = sft_config(TrainConfig(lr=3e-4, max_steps=7, batch_size=4, grad_accum_steps=2), "cpu")
    assert cfg.use_cpu and not cfg.dataloader_pin_memory and not cfg.gradient_checkpointing
    assert cfg.bf16 == supports_bf16(torch.device("cpu"))
    assert (cfg.learning_rate, cfg.max_steps, cfg.per_device_train_batch_size,
            cfg.gradient_accumulation_steps) == (3e-4, 7, 4, 2)
    assert cfg.report_to == [] and cfg.assistant_only_loss
    assert not sft_config(TrainConfig(bf16=False), "cpu").bf16
    assert not sft_config(TrainConfig(max_steps=50), "cpu").disable_tqdm
    assert sft_config(TrainConfig(max_steps=50, progress_bar=False), "cpu").disable_tqdm


def test_train_lowers_the_loss_and_counts_tokens():
    model, tokenizer = load_model("tiny", device="cpu")
    records = read_jsonl(DATA_DIR / "qa" / "train.jsonl")[:64]
    dataset = Dataset.from_list([{"messages": to_messages(r)["messages"]} for r in records])
    before = model.model.layers[0].self_attn.q_proj.weight.detach().clone()
    result = train(TrainConfig(lr=3e-4, max_steps=12, batch_size=8, logging_steps=2, bf16=False),
                   model, tokenizer, dataset)
    losses = [h["loss"] for h in result.log_history if "loss" in h]
    assert result.final_loss == losses[-1] < losses[0]
    assert result.train_tokens > 12 * 8 * 10 and result.tokens_per_second > 0
    assert not torch.equal(before, model.model.layers[0].self_attn.q_proj.weight)
    assert not model.training
    # the state the run held is counted, then AdamW's moments are freed (kept results hold no optimizer)
    assert result.state_mb["gradients"] > 0
    assert result.state_mb["optimizer"] == pytest.approx(2 * result.state_mb["gradients"], rel=0.01)
    assert len(result.trainer.optimizer.state) == 0


def test_each_optimizer_step_is_timed_once_and_the_timer_is_removed_after():
    model, tokenizer = load_model("tiny", device="cpu")
    config = TrainConfig(lr=3e-4, max_steps=6, batch_size=4, grad_accum_steps=2, bf16=False,
                         progress_bar=False)
    result = train(config, model, tokenizer, _qa(48))
    assert len(result.step_seconds) == result.steps == 6  # one per update, not per micro-batch
    assert all(s > 0 for s in result.step_seconds) and sum(result.step_seconds) < result.seconds
    assert min(result.step_seconds) <= result.median_step_seconds <= max(result.step_seconds)
    callbacks = result.trainer.callback_handler.callbacks
    assert not any(type(c).__name__ == "StepTimer" for c in callbacks)


def test_sgd_with_momentum_trains_and_keeps_one_buffer_per_weight_where_adamw_keeps_two():
    assert "adamw" in sft_config(TrainConfig(), "cpu").optim  # None leaves the trainer's AdamW
    model, tokenizer = load_model("tiny", device="cpu")
    config = TrainConfig(lr=3e-2, max_steps=4, batch_size=4, bf16=False, optim="sgd",
                         optim_args="momentum=0.9", logging_steps=1)
    result = train(config, model, tokenizer, _qa(16))
    optimizer = result.trainer.optimizer.optimizer  # accelerate wraps the torch optimizer
    assert type(optimizer) is torch.optim.SGD and optimizer.defaults["momentum"] == 0.9
    assert result.state_mb["optimizer"] == pytest.approx(result.state_mb["gradients"], rel=0.01)
    losses = [h["loss"] for h in result.log_history if "loss" in h]
    assert losses[-1] < losses[0]


def _qa(n, split="train"):
    records = read_jsonl(DATA_DIR / "qa" / f"{split}.jsonl")[:n]
    return Dataset.from_list([{"messages": to_messages(r)["messages"]} for r in records])


def test_a_run_on_data_prepared_before_trains_on_those_rows_and_gets_the_same_losses(monkeypatch):
    import trl

    from sftlib import train as recipe

    seen = []

    class Recording(trl.SFTTrainer):
        def __init__(self, *args, train_dataset=None, **kwargs):
            seen.append(train_dataset.column_names)
            super().__init__(*args, train_dataset=train_dataset, **kwargs)

    monkeypatch.setattr(trl, "SFTTrainer", Recording)
    monkeypatch.setattr(recipe, "_prepared", {})
    tokenizer = load_model("tiny")[1]
    data, val = _qa(48), _qa(16, "validation")
    config = TrainConfig(lr=3e-4, max_steps=4, batch_size=8, logging_steps=1, eval_steps=2)
    runs = [train(c, load_model("tiny", device="cpu")[0], tokenizer, data, val)
            for c in (config, config, dataclasses.replace(config, assistant_only_loss=False))]
    assert ["messages"] == seen[0] and "input_ids" in seen[1] and ["messages"] == seen[2]
    packed = dataclasses.replace(config, packing=True, eval_steps=None)
    for _ in range(2):  # packed rows are not kept: TRL would pack them again
        train(packed, load_model("tiny", device="cpu")[0], tokenizer, data)
    assert seen[3:] == [["messages"], ["messages"]]
    assert len(recipe._prepared) == 4  # train and validation, with two loss masks
    losses = [[(h.get("loss"), h.get("eval_loss"), h.get("grad_norm"), h.get("num_tokens"))
               for h in run.log_history] for run in runs]
    assert losses[1] == losses[0] != losses[2]


def test_lora_run_changes_adapters_not_the_base_and_reports_its_columns(capsys):
    model, tokenizer = load_model("tiny", device="cpu")
    base = model.model.layers[0].self_attn.q_proj.weight.detach().clone()
    result = train(TrainConfig(method="lora", lr=2e-3, max_steps=6, batch_size=8, logging_steps=2,
                               eval_steps=3, bf16=False, live_plot=True),
                   model, tokenizer, _qa(48), _qa(16, "validation"))
    assert torch.equal(base, model.model.layers[0].self_attn.q_proj.base_layer.weight)
    lora_b = result.model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.default.weight
    assert lora_b.abs().sum() > 0  # starts at zero, so it moved
    row = result.summary()
    assert row["trainable params"] == result.trainable_params
    assert result.total_params == 5_285_120 + result.trainable_params  # adapters add parameters
    assert 0 < row["trainable %"] < 10 and row["s/step"] > 0 and row["val loss"] > 0
    assert result.memory_kind == "process RSS" and result.steps == 6
    printed = capsys.readouterr().out  # outside a notebook the live plot prints lines
    assert "step 2/6: {'loss'" in printed and "'eval_loss'" in printed


def test_early_stopping_stops_when_validation_loss_stops_falling(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the run's scratch folder goes
    model, tokenizer = load_model("tiny", device="cpu")
    config = TrainConfig(lr=3e-3, max_steps=200, batch_size=8, eval_steps=2, logging_steps=2,
                         early_stopping_patience=2, bf16=False)
    result = train(config, model, tokenizer, _qa(16), _qa(32, "validation"))
    evals = [h["eval_loss"] for h in result.log_history if "eval_loss" in h]
    assert result.steps < 200
    assert min(evals) < min(evals[-2:])  # the last two evaluations did not improve
    # its checkpoints went to a temporary folder, which is gone once the best one is loaded
    assert result.trainer.args.output_dir.startswith(str(tmp_path / "sft-"))
    assert not list(tmp_path.glob("sft-*"))
    with pytest.raises(ValueError, match="needs eval_steps"):
        TrainConfig(early_stopping_patience=2)


def test_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            control.should_training_stop = state.global_step == 4

    interrupted = tmp_path / "interrupted"
    config = TrainConfig(lr=3e-4, max_steps=8, batch_size=8, logging_steps=1, bf16=False,
                         save_steps=4, output_dir=str(interrupted))
    data = _qa(64)
    # the uninterrupted run writes its checkpoints elsewhere: the resume can only find the
    # interrupted run's own checkpoint
    whole = train(dataclasses.replace(config, output_dir=str(tmp_path / "whole")),
                  load_model("tiny", device="cpu")[0], load_model("tiny")[1], data)
    assert (tmp_path / "whole" / "checkpoint-8").is_dir()
    model, tokenizer = load_model("tiny", device="cpu")
    from sftlib.train import sft_config, train_with_args
    train_with_args(sft_config(config, "cpu"), model, tokenizer, data, callbacks=[StopAt()])
    assert (interrupted / "checkpoint-4").is_dir()  # it saved at step 4 and stopped there
    assert not (interrupted / "checkpoint-8").exists()
    resumed = train(config, load_model("tiny", device="cpu")[0], tokenizer, data,
                    resume_from_checkpoint=str(interrupted / "checkpoint-4"))
    assert resumed.final_loss == pytest.approx(whole.final_loss, abs=1e-5)


def test_trained_model_computes_like_its_saved_copy_after_bf16_training(tmp_path):
    model, tokenizer = load_model("tiny", device="cpu")
    result = train(TrainConfig(max_steps=3, batch_size=8, bf16=True), model, tokenizer, _qa(24))
    result.trainer.save_model(tmp_path)
    reloaded, _ = load_model(str(tmp_path), device="cpu")
    batch = tokenizer(["Olga Brandt was born in"], return_tensors="pt")
    with torch.no_grad():  # no bf16 autocast left on the trained model's forward
        assert torch.equal(model(**batch).logits, reloaded(**batch).logits)


def test_a_trained_model_gets_bf16_autocast_again_from_a_second_trainer():
    model, tokenizer = load_model("tiny", device="cpu")
    config = TrainConfig(max_steps=2, batch_size=8, bf16=True)
    seen = []
    inner = model.model  # runs inside the forward that accelerate wraps in autocast
    inner.register_forward_hook(lambda module, args, out: seen.append(torch.is_autocast_enabled("cpu")))
    first = train(config, model, tokenizer, _qa(16))
    assert seen and all(seen)
    seen.clear()
    train(config, first.model, tokenizer, _qa(16))  # e.g. DPO or a second task on the SFT model
    assert seen and all(seen)


@pytest.mark.parametrize("bf16", [False, True])  # without bf16 the copy used to run the original
def test_a_deep_copy_of_a_trained_model_computes_with_its_own_weights(bf16):
    model, tokenizer = load_model("tiny", device="cpu")
    result = train(TrainConfig(max_steps=2, batch_size=8, bf16=bf16), model, tokenizer, _qa(16))
    twin = copy.deepcopy(result.model)  # as lessons 07 and 10 copy the SFT model
    batch = tokenizer(["Olga Brandt was born in"], return_tensors="pt")
    with torch.no_grad():
        twin.model.norm.weight.mul_(2.0)
        assert not torch.allclose(twin(**batch).logits, result.model(**batch).logits)


def test_drop_scratch_removes_only_the_folders_scratch_dir_made(tmp_path):
    from sftlib.runner import drop_scratch, scratch_dir

    made = Path(scratch_dir())
    (made / "checkpoint-1").mkdir()
    drop_scratch(made)
    assert not made.exists()
    chosen = tmp_path / "out"
    chosen.mkdir()
    drop_scratch(chosen)  # a folder the caller chose is kept
    assert chosen.exists()


def test_train_leaves_weight_0_answers_out_of_the_loss():
    model, tokenizer = load_model("tiny", device="cpu")
    user, answer = {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}
    later = {"role": "assistant", "content": "c"}
    plain = Dataset.from_list([{"messages": [user, answer]}, {"messages": [user, answer, user, later]}])
    weighted = Dataset.from_list([{"messages": [user, answer]},
                                  {"messages": [user, {**answer, "weight": 0}, user, later]}])
    args = sft_config(TrainConfig(max_steps=1))
    assert apply_answer_weights(args, tokenizer, {"train": plain, "eval": None}) == (
        args, {"train": plain, "eval": None})  # nothing to leave out: TRL tokenises it itself
    trainer = sft_trainer(args, model, tokenizer, weighted, eval_dataset=weighted)
    assert args.assistant_only_loss  # the caller's settings are not changed
    for prepared in (trainer.train_dataset, trainer.eval_dataset):
        trained = [tokenizer.decode([t for t in row["labels"] if t != -100]) for row in prepared]
        assert trained == [" b</s>", " c</s>"]  # the second conversation's first answer is context
        assert prepared[1]["input_ids"] == tokenize_chat(weighted[1]["messages"], tokenizer)["input_ids"]
    nothing = Dataset.from_list([{"messages": [user, {**answer, "weight": 0}]}])
    with pytest.raises(ValueError, match=r"train data, row 0: tokenize_chat: no trained token"):
        train(TrainConfig(max_steps=1), model, tokenizer, nothing)
    too_long = Dataset.from_list([{"messages": [user, answer]},
                                  {"messages": [user, {**answer, "weight": 0}, user, later]}] * 2)
    with pytest.raises(ValueError, match=r"eval data, row 1: .*max_length=8"):
        sft_trainer(sft_config(TrainConfig(max_steps=1, max_length=8)), model, tokenizer,
                    weighted.select([0]), eval_dataset=too_long)


def test_train_refuses_an_eval_set_it_would_never_evaluate():
    model, tokenizer = load_model("tiny", device="cpu")
    with pytest.raises(ValueError, match="eval_steps is None, so it would never be evaluated"):
        train(TrainConfig(max_steps=1), model, tokenizer, _qa(8), _qa(8, "validation"))


@pytest.mark.parametrize("fields, message", [
    ({"method": "lora", "freeze_layers": 2}, "does nothing with method='lora'"),
    ({"max_steps": 0}, "max_steps=0; it must be at least 1"),
    ({"lr": -1e-4}, "a learning rate is > 0"),
    ({"warmup_ratio": 1.0}, r"share of the steps in \[0, 1\)"),
    ({"eval_steps": 5, "early_stopping_patience": 0}, "use None to turn it off"),
])
def test_train_config_refuses_settings_that_would_be_ignored_or_misread(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)


def test_examples_that_trl_would_cut_or_drop_are_refused():
    model, tokenizer = load_model("tiny", device="cpu")
    data = _qa(48)
    whole = sft_trainer(sft_config(TrainConfig(max_length=None), "cpu"), model, tokenizer, data)
    longest = max(map(len, whole.train_dataset["input_ids"]))
    sft_trainer(sft_config(TrainConfig(max_length=longest + 1), "cpu"), model, tokenizer, data)
    with pytest.raises(ValueError, match=f"fills max_length={longest - 1} tokens"):
        sft_trainer(sft_config(TrainConfig(max_length=longest - 1), "cpu"), model, tokenizer, data)
    with pytest.raises(ValueError, match=r"TRL dropped \d+ of 48 examples"):
        sft_trainer(sft_config(TrainConfig(max_length=12), "cpu"), model, tokenizer, data)
    packed = dict(packing=True, batch_size=2)  # TRL cuts each example to max_length, then packs
    sft_trainer(sft_config(TrainConfig(max_length=longest + 1, **packed), "cpu"), model, tokenizer, data)
    with pytest.raises(ValueError, match=f"an example fills max_length={longest - 1} tokens"):
        sft_trainer(sft_config(TrainConfig(max_length=longest - 1, **packed), "cpu"), model, tokenizer, data)


def test_a_failed_run_leaves_the_model_plain_and_no_scratch_folder(tmp_path, monkeypatch):
    import tempfile

    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            raise RuntimeError("the laptop lid closed")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    model, tokenizer = load_model("tiny", device="cpu")
    with pytest.raises(RuntimeError, match="lid closed"):
        train(TrainConfig(max_steps=3, batch_size=4), model, tokenizer, _qa(12), extra_callbacks=[Crash()])
    assert not list(tmp_path.glob("sft-*"))
    assert "forward" not in vars(model) and not getattr(model, "_is_accelerate_prepared", False)


def test_a_dtype_name_that_is_not_a_torch_dtype_is_refused():
    from sftlib.models import pick_dtype

    assert pick_dtype(torch.device("cpu"), "bfloat16") is torch.bfloat16
    for bad in ("bf16", "nn"):
        with pytest.raises(ValueError, match=f"dtype='{bad}' is not a torch dtype"):
            pick_dtype(torch.device("cpu"), bad)
