import platform

import pytest
import torch

from sftlib.checkpoints import CACHE_ENV
from sftlib.cost import (estimate_training_memory, forward_tokens, measure_training_memory,
                         saved_activations_mb, training_flops)
from sftlib.methods import apply_method
from sftlib.models import load_model
from sftlib.train import TrainConfig


def test_training_flops_is_six_n_d():
    assert training_flops(1_000, 10) == 60_000


def test_peak_memory_sees_a_temporary_allocation_on_cpu():
    # In a fresh process: a process that already freed memory reuses it, and RSS does not grow
    # (seen when this test ran after others in the same pytest worker).
    import subprocess
    import sys

    code = ("import time, torch\n"
            "from sftlib.cost import PeakMemory\n"
            "with PeakMemory('cpu', interval=0.002) as mem:\n"
            "    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, written so its pages are resident\n"
            "    time.sleep(0.5)  # held for many sampling intervals, as a training step's tensors are\n"
            "    del block\n"
            "print(mem.peak_mb, mem.kind, sep='|')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak_mb, kind = out.stdout.strip().split("|")
    assert 48 < float(peak_mb) < 200 and kind == "process RSS"


def test_estimate_by_method_follows_what_is_trained():
    tokens = 16 * 40
    full = estimate_training_memory(load_model("tiny", device="cpu")[0], tokens)
    n = 5_285_120
    assert full.weights == pytest.approx(4 * n / 2**20, rel=0.01)
    assert full.gradients == pytest.approx(4 * n / 2**20) and full.optimizer == 2 * full.gradients
    frozen_all = apply_method(load_model("tiny", device="cpu")[0],
                              TrainConfig(method="frozen", freeze_layers=6))
    frozen = estimate_training_memory(frozen_all, tokens)
    assert frozen.activations < full.activations / 5 and 0 < frozen.gradients < full.gradients / 100
    lora = estimate_training_memory(apply_method(load_model("tiny", device="cpu")[0],
                                                 TrainConfig(method="lora")), tokens)
    assert lora.activations == full.activations and lora.optimizer < full.optimizer / 10
    qlora = estimate_training_memory(apply_method(load_model("tiny", device="cpu", quantize="nf4")[0],
                                                  TrainConfig(method="qlora")), tokens)
    assert qlora.weights < lora.weights / 3
    assert estimate_training_memory(load_model("tiny", device="cpu")[0], 2 * tokens).activations == (
        pytest.approx(2 * full.activations))


def test_estimate_counts_gradients_and_moments_in_the_weights_dtype():
    # bf16 weights (what load_model picks on a bf16 GPU) get bf16 gradients and AdamW moments:
    # on an H100, full fine-tuning of a 7B-shaped model peaked at 51 GB, not at 16 bytes/parameter
    full32 = estimate_training_memory(load_model("tiny", device="cpu")[0], 64)
    full16 = estimate_training_memory(load_model("tiny", device="cpu", dtype=torch.bfloat16)[0], 64)
    assert full16.gradients == pytest.approx(full32.gradients / 2)
    assert full16.optimizer == pytest.approx(full32.optimizer / 2) == pytest.approx(2 * full16.gradients)


def test_measure_training_memory_runs_in_a_child_process():
    config = TrainConfig(method="lora", max_steps=2, batch_size=4, bf16=False, logging_steps=1,
                         assistant_only_loss=False, completion_only_loss=True)
    found = measure_training_memory("tiny", config, examples=8)
    assert found["measured weights"] == pytest.approx(found["estimate weights"], rel=0.1)
    assert found["measured"] > found["measured weights"] > 0 and found["kind"] == "process RSS"
    assert found["saved activations"] == pytest.approx(found["estimate activations"], rel=0.25)
    with pytest.raises(RuntimeError, match="no-such-profile"):
        measure_training_memory("no-such-profile", config, examples=8)
    with pytest.raises(RuntimeError, match="no-such-device"):  # env reaches the child
        measure_training_memory("tiny", config, examples=8, env={"SFT_DEVICE": "no-such-device"})


def test_a_measurement_given_its_own_environment_never_loads_a_saved_run(tmp_path, monkeypatch):
    # lesson 06 measures LoRA again with glibc's threshold fixed: a run loaded from the run cache
    # would report the first measurement's memory and step time (seen with SFT_RUN_CACHE set)
    import subprocess

    children = []
    def child(args, env, **kw):
        children.append(env)
        return subprocess.CompletedProcess(args, 0, '{"measured": 1.0}\n', "")
    monkeypatch.setattr(subprocess, "run", child)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    config = TrainConfig(method="lora", max_steps=2)
    measure_training_memory("tiny", config)
    measure_training_memory("tiny", config, env={"MALLOC_MMAP_THRESHOLD_": "131072"})
    assert children[0][CACHE_ENV] == str(tmp_path)  # may load a saved run: a workshop skips the cell
    assert children[1][CACHE_ENV] == "0" and children[1]["MALLOC_MMAP_THRESHOLD_"] == "131072"


def test_measure_training_memory_says_a_killed_child_likely_ran_out_of_memory(monkeypatch):
    import subprocess

    config = TrainConfig(method="full", max_steps=1, batch_size=4)
    killed = lambda args, **kw: subprocess.CompletedProcess(args, -9, "", "")  # the OOM killer's SIGKILL
    monkeypatch.setattr(subprocess, "run", killed)
    with pytest.raises(RuntimeError, match=r"killed by signal 9 \(SIGKILL\).*ran out of memory"):
        measure_training_memory("tiny", config)
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: subprocess.CompletedProcess(args, -15, "", ""))
    with pytest.raises(RuntimeError, match=r"signal 15 \(SIGTERM\)$") as stopped:
        measure_training_memory("tiny", config)
    assert "memory" not in str(stopped.value).replace("memory measurement", "")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_return_freed_memory_shrinks_the_resident_set_after_tensors_are_freed():
    import psutil

    from sftlib.cost import return_freed_memory

    rss = lambda: psutil.Process().memory_info().rss / 2**20
    kept, freed = [], []
    for i in range(20_000):  # 16 KiB tensors come from the heap; every other one is freed
        (kept if i % 2 else freed).append(torch.ones(4096))
    del freed  # 160 MiB free, between the kept ones: glibc keeps it for reuse
    before = rss()
    return_freed_memory()
    assert rss() < before - 60


def test_saved_activations_count_what_backward_needs():
    full = load_model("tiny", device="cpu")[0].train()
    batch = {"input_ids": torch.randint(0, full.config.vocab_size, (4, 40)),
             "attention_mask": torch.ones(4, 40, dtype=torch.long)}
    counted = saved_activations_mb(full, batch)
    assert counted == pytest.approx(estimate_training_memory(full, 4 * 40).activations, rel=0.25)
    frozen = apply_method(load_model("tiny", device="cpu")[0], TrainConfig(method="frozen",
                                                                           freeze_layers=4)).train()
    assert saved_activations_mb(frozen, batch) < 0.6 * counted  # 2 of 6 blocks save for backward
    for param in full.parameters():
        param.requires_grad_(False)
    assert saved_activations_mb(full, batch) == 0.0  # nothing to differentiate, nothing kept


def test_forward_tokens_counts_positions_by_whether_backward_can_follow():
    model = load_model("tiny", device="cpu")[0]
    ids = torch.ones(4, 10, dtype=torch.long)
    with forward_tokens(model, None) as counted:
        model(ids)
        with torch.no_grad():
            model(ids[:2])
    assert counted == {"with gradients": 40, "without gradients": 20}
    model(ids)  # the hook is gone after the block
    assert counted == {"with gradients": 40, "without gradients": 20}
