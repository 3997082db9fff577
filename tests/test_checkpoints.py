import json

import pytest
import torch
from datasets import Dataset

from sftlib import DATA_DIR, checkpoints
from sftlib.data import read_jsonl
from sftlib.models import load_model
from sftlib.schemas import to_messages
from sftlib.train import TrainConfig, train

STEPS = TrainConfig(lr=3e-4, max_steps=3, batch_size=4, logging_steps=1, progress_bar=False)


@pytest.fixture(scope="module")
def data():
    rows = [to_messages(r) for r in read_jsonl(DATA_DIR / "qa" / "train.jsonl")[:24]]
    return Dataset.from_list(rows)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(checkpoints.CACHE_ENV, str(tmp_path / "runs"))
    return tmp_path / "runs"


def forward_code(model):
    return getattr(model.forward, "__func__", model.forward).__code__


def weights(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_off_unless_asked(monkeypatch, tmp_path, data):
    monkeypatch.delenv(checkpoints.CACHE_ENV, raising=False)
    assert checkpoints.cache_dir() is None
    monkeypatch.setenv(checkpoints.CACHE_ENV, "0")
    assert checkpoints.cache_dir() is None
    monkeypatch.setenv(checkpoints.CACHE_ENV, "1")
    assert checkpoints.cache_dir().name == "runs"
    for off in ("False", "OFF", "no"):  # a word is not a folder name
        monkeypatch.setenv(checkpoints.CACHE_ENV, off)
        assert checkpoints.cache_dir() is None
    monkeypatch.setenv(checkpoints.CACHE_ENV, "Yes")
    assert checkpoints.cache_dir().name == "runs"


def test_the_key_counts_the_processes_and_a_loaded_run_leaves_no_scratch_folder(
        cache, data, monkeypatch, tmp_path):
    import tempfile

    model, tokenizer = load_model("tiny", device="cpu")
    one = checkpoints.run_key(STEPS, model, tokenizer, data)
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun: twice the global batch
    assert checkpoints.run_key(STEPS, model, tokenizer, data) != one
    monkeypatch.delenv("WORLD_SIZE")
    train(STEPS, load_model("tiny", device="cpu")[0], tokenizer, data)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    assert train(STEPS, load_model("tiny", device="cpu")[0], tokenizer, data).from_cache
    assert not list((tmp_path / "scratch").iterdir())


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_repeated_run_is_loaded_with_the_same_weights_and_log(cache, data, method):
    config = TrainConfig(**{**vars(STEPS), "method": method})
    first = train(config, load_model("tiny", device="cpu")[0], load_model("tiny")[1], data)
    assert not first.from_cache and len(list(cache.iterdir())) == 1
    again = train(config, load_model("tiny", device="cpu")[0], load_model("tiny")[1], data)
    assert again.from_cache
    assert again.log_history == first.log_history and again.steps == first.steps == 3
    assert again.seconds == first.seconds and again.trainable_params == first.trainable_params
    assert again.state_mb == first.state_mb and first.state_mb["optimizer"] > 0
    assert again.step_seconds == first.step_seconds and len(first.step_seconds) == 3
    assert again.forward_tokens == first.forward_tokens
    assert first.forward_tokens["with gradients"] > 0
    before, after = weights(first.model), weights(again.model)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[name], after[name]) for name in before)
    batch = torch.tensor([[1, 5, 9, 11]])
    with torch.no_grad():
        assert torch.equal(first.model(batch).logits, again.model(batch).logits)
    # the model object is left as a trained one is, which later trainers read (lesson 10's DPO)
    assert sorted(vars(again.model)) == sorted(vars(first.model))
    assert forward_code(again.model) is forward_code(first.model)


def test_any_change_of_input_trains_again(cache, data):
    model, tokenizer = load_model("tiny", device="cpu")
    key = checkpoints.run_key(STEPS, model, tokenizer, data)
    assert key == checkpoints.run_key(STEPS, load_model("tiny", device="cpu")[0], tokenizer, data)
    assert key == checkpoints.run_key(
        TrainConfig(**{**vars(STEPS), "progress_bar": True, "live_plot": True}), model, tokenizer,
        data)  # display only
    assert key != checkpoints.run_key(TrainConfig(**{**vars(STEPS), "lr": 1e-4}), model,
                                      tokenizer, data)
    assert key != checkpoints.run_key(STEPS, model, tokenizer, data.select(range(23)))
    assert key != checkpoints.run_key(STEPS, model, tokenizer, data, data.select(range(4)))
    sdpa = load_model("tiny", device="cpu")[0]  # eager attention on a CPU (load_model)
    sdpa.set_attn_implementation("sdpa")  # other kernels, other rounding
    assert key != checkpoints.run_key(STEPS, sdpa, tokenizer, data)
    with torch.no_grad():
        next(model.parameters())[0, 0] += 1e-3
    assert key != checkpoints.run_key(STEPS, model, tokenizer, data)


def test_runs_that_write_or_resume_checkpoints_are_not_cached(cache, data, tmp_path):
    config = TrainConfig(**{**vars(STEPS), "save_steps": 3, "output_dir": str(tmp_path / "out")})
    train(config, load_model("tiny", device="cpu")[0], load_model("tiny")[1], data)
    assert not cache.exists()
    stopping = TrainConfig(**{**vars(STEPS), "eval_steps": 1, "early_stopping_patience": 1})
    assert checkpoints.cacheable(stopping)  # its checkpoints go to a scratch folder
    assert not checkpoints.cacheable(TrainConfig(**{**vars(stopping), "output_dir": "mine"}))


def test_a_saved_run_of_another_method_is_refused(cache, data):
    first = train(STEPS, load_model("tiny", device="cpu")[0], load_model("tiny")[1], data)
    folder = next(cache.iterdir())
    lora_model = train(TrainConfig(**{**vars(STEPS), "method": "lora", "max_steps": 1}),
                       load_model("tiny", device="cpu")[0], load_model("tiny")[1], data).model
    with pytest.raises(checkpoints.CacheError, match="does not fit this model"):
        checkpoints.load_run(folder, lora_model)
    saved = json.loads((folder / "run.json").read_text())
    assert saved["global_step"] == first.steps and saved["saved"]
