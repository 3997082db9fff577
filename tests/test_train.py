import torch
from datasets import Dataset

from sftlib import DATA_DIR
from sftlib.data import read_jsonl, to_messages
from sftlib.models import load_model, supports_bf16
from sftlib.train import TrainConfig, sft_config, train


def test_sft_config_is_cpu_safe_and_follows_the_config():
    cfg = sft_config(TrainConfig(lr=3e-4, max_steps=7, batch_size=4, grad_accum_steps=2), "cpu")
    assert cfg.use_cpu and not cfg.dataloader_pin_memory and not cfg.gradient_checkpointing
    assert cfg.bf16 == supports_bf16(torch.device("cpu"))
    assert (cfg.learning_rate, cfg.max_steps, cfg.per_device_train_batch_size,
            cfg.gradient_accumulation_steps) == (3e-4, 7, 4, 2)
    assert cfg.report_to == [] and cfg.assistant_only_loss
    assert not sft_config(TrainConfig(bf16=False), "cpu").bf16


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
