import copy as copy_module
import json
import warnings

import pytest
import torch

from sftlib import DATA_DIR
from sftlib.data import read_jsonl
from sftlib.evaluate import probe_accuracy
from sftlib.likelihood import perplexity
from sftlib.models import (PROFILES, ProfileError, count_parameters, get_profile, load_model,
                           load_tokenizer, model_path, pick_device, pick_dtype, profile_name,
                           quiet_weight_bars, supports_bf16, untrained_model)
from sftlib.templates import CHATML_TEMPLATE, INST_TEMPLATE

REPORT = json.loads((DATA_DIR / "tiny" / "pretrain_report.json").read_text())


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_profile_name_reads_the_environment(monkeypatch):
    monkeypatch.delenv("SFT_PROFILE", raising=False)
    assert profile_name() == "tiny"
    monkeypatch.setenv("SFT_PROFILE", "smollm2-135m")
    assert profile_name() == "smollm2-135m"
    assert profile_name("tiny") == "tiny"


def test_get_profile_knows_names_folders_and_hub_ids(tmp_path):
    assert get_profile("tiny").source == "embedded"
    assert get_profile("qwen2.5-0.5b").location == "Qwen/Qwen2.5-0.5B"
    assert get_profile(str(tmp_path)).source == "hub"
    assert get_profile("someone/some-model").location == "someone/some-model"
    with pytest.raises(ProfileError, match="unknown profile 'nope'.*tiny"):
        get_profile("nope")


def test_device_and_dtype_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device().type in {"cpu", "cuda", "mps"}
    cpu = torch.device("cpu")
    assert pick_dtype(cpu) == torch.float32
    assert pick_dtype(cpu, "bfloat16") == torch.bfloat16
    assert isinstance(supports_bf16(cpu), bool)


def test_tiny_loads_offline_as_a_llama(tiny):
    model, tokenizer = tiny
    assert model.config.model_type == "llama"
    assert {"q_proj", "v_proj"} <= {name.split(".")[-1] for name, _ in model.named_modules()}
    assert count_parameters(model) == REPORT["parameters"]
    assert model.dtype == torch.float32 and not model.training
    assert tokenizer.pad_token != tokenizer.eos_token


def test_cpu_attention_is_eager_and_keeps_packed_and_padded_rows_exact(tiny):
    """Eager attention (faster on a CPU) must compute what SDPA computes, on the rows training
    and generation build: examples packed with restarting positions, and left padding."""
    model, tokenizer = tiny
    assert model.config._attn_implementation == "eager"
    sdpa = copy_module.deepcopy(model)
    sdpa.set_attn_implementation("sdpa")
    first = tokenizer("Kira Marlow was born in Lima.", add_special_tokens=False).input_ids
    second = tokenizer("The capital of Norway is Oslo.", add_special_tokens=False).input_ids
    packed = torch.tensor([first + second])
    positions = torch.tensor([list(range(len(first))) + list(range(len(second)))])
    with torch.no_grad():
        alone = model(torch.tensor([second])).logits[0]
        eager_row = model(packed, position_ids=positions).logits[0]
        sdpa_row = sdpa(packed, position_ids=positions).logits[0]
        pad = tokenizer.pad_token_id
        padded = model(torch.tensor([[pad] * 3 + second]),
                       attention_mask=torch.tensor([[0] * 3 + [1] * len(second)])).logits[0]
        causal_only = model(packed).logits[0, len(first):]
    torch.testing.assert_close(eager_row, sdpa_row, atol=1e-4, rtol=0)
    torch.testing.assert_close(eager_row[len(first):], alone, atol=1e-4, rtol=0)  # kept apart
    assert not torch.allclose(causal_only, alone, atol=1e-2)  # positions not restarting: it leaks
    torch.testing.assert_close(padded[3:], alone, atol=1e-4, rtol=0)


def test_tiny_tokenizer_round_trips_text(tiny):
    _, tokenizer = tiny
    text = "Kira Marlow was born in Lima on March 3, 1950. Ünïcode & émoji 🙂 too."
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.decode(ids).strip() == text
    assert tokenizer(text).input_ids[0] == tokenizer.bos_token_id


def test_tiny_chat_template_renders_and_marks_assistant_tokens(tiny):
    _, tokenizer = tiny
    messages = [{"role": "user", "content": "What is the capital of Peru?"},
                {"role": "assistant", "content": "Lima."}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == "<s><|user|> What is the capital of Peru?<|assistant|> Lima.</s>"
    prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|assistant|>")
    out = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    trained = [t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tokenizer.decode(trained) == " Lima.</s>"


def test_tiny_beats_its_recorded_heldout_perplexity(tiny):
    model, tokenizer = tiny
    texts = [r["text"] for r in _jsonl(DATA_DIR / "tiny" / "heldout.jsonl")]
    ppl = perplexity(model, tokenizer, texts)
    assert ppl <= REPORT["heldout_perplexity"] * 1.01
    assert ppl < REPORT["heldout_perplexity_random_init"] / 10


def test_tiny_knows_its_world_and_not_invented_people(tiny):
    model, tokenizer = tiny
    known = _jsonl(DATA_DIR / "probes" / "people.jsonl")[::15]
    invented = _jsonl(DATA_DIR / "probes" / "invented.jsonl")[::2]
    countries = _jsonl(DATA_DIR / "probes" / "countries.jsonl")
    assert probe_accuracy(model, tokenizer, known) >= REPORT["probe_accuracy_people"] - 0.05
    assert probe_accuracy(model, tokenizer, countries) >= REPORT["probe_accuracy_countries"] - 0.03
    assert probe_accuracy(model, tokenizer, invented) < 0.35


def test_a_save_pretrained_folder_loads_through_the_hub_code_path(tiny, tmp_path, capfd):
    from transformers.utils import logging as hf_logging

    model, tokenizer = tiny
    capfd.readouterr()
    with quiet_weight_bars():
        model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert model_path(str(tmp_path)) == str(tmp_path)  # the same from_pretrained call as a hub id
    again, _ = load_model(str(tmp_path), device="cpu")
    # a small local model loads and saves without the "0%" bars a notebook would keep
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "Writing model shards" not in err
    assert hf_logging.is_progress_bar_enabled()  # switched back on afterwards
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(again(ids).logits, model(ids).logits)


def test_hub_tokenizers_get_a_marked_chat_template_or_a_warning(tiny, tmp_path):
    _, tokenizer = tiny
    unmarked = CHATML_TEMPLATE.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
    cases = {"chatml": unmarked, "none": None,
             "inst": INST_TEMPLATE.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")}
    for name, template in cases.items():
        copy = copy_module.deepcopy(tokenizer)
        copy.chat_template = template
        copy.save_pretrained(tmp_path / name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a template that renders the same needs no warning
        assert load_tokenizer(str(tmp_path / "chatml")).chat_template == CHATML_TEMPLATE
    with pytest.warns(UserWarning, match="no chat template; the course's ChatML"):
        assert load_tokenizer(str(tmp_path / "none")).chat_template == CHATML_TEMPLATE
    with pytest.warns(UserWarning, match="no marked version of it"):
        assert load_tokenizer(str(tmp_path / "inst")).chat_template == cases["inst"]


def test_unreachable_hub_profile_names_the_profile_and_the_fix():
    # a GPU profile on the CPU is first warned about; the hub cannot be reached here
    with pytest.warns(UserWarning, match="'qwen2.5-0.5b' is meant for a GPU"), \
            pytest.raises(ProfileError, match="(?s)qwen2.5-0.5b.*SFT_PROFILE=tiny"):
        load_model("qwen2.5-0.5b", device="cpu")


def test_missing_embedded_weights_say_how_to_restore(monkeypatch, tmp_path):
    from sftlib import models

    monkeypatch.setitem(models.PROFILES, "tiny", models.Profile("tiny", "embedded", str(tmp_path), ""))
    with pytest.raises(ProfileError, match="git checkout data/tiny"):
        model_path("tiny")


@pytest.mark.slow
def test_smollm2_profile_answers_and_trains_one_step():
    model, tokenizer = load_model("smollm2-135m", device="cpu")
    assert count_parameters(model) > 100_000_000
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, ids["input_ids"].shape[1]:])

    model.train()
    batch = tokenizer(["The capital of France is Paris."] * 2, return_tensors="pt")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    before = model.lm_head.weight.detach().clone()
    loss = model(**batch, labels=batch.input_ids).loss
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert not torch.equal(before, model.lm_head.weight)


def test_every_profile_has_a_description():
    assert all(p.description for p in PROFILES.values())


def test_world_profiles_name_their_base_and_reuse_the_cached_folder(monkeypatch, tmp_path):
    import sftlib.models as models

    prof = models.get_profile("smollm2-135m-base+world")
    assert (prof.source, prof.location, prof.needs_gpu) == ("world", "smollm2-135m-base", True)
    with pytest.raises(models.ProfileError, match="unknown profile 'nope'"):
        models.get_profile("nope+world")
    import hashlib

    folder = tmp_path / "world" / f"some_folder-{hashlib.sha256(b'/some/folder').hexdigest()[:8]}"
    folder.mkdir(parents=True)
    (folder / "world_report.json").write_text("{}")
    monkeypatch.setattr(models, "CACHE_DIR", tmp_path)
    monkeypatch.setattr("sftlib.pretrain.teach_world", lambda *a: pytest.fail("trained again"))
    assert models.model_path("/some/folder+world") == str(folder)

    taught = []

    def teach(cfg, out_dir):  # a stand-in for the minutes of continued pretraining
        assert out_dir.name.endswith(".partial")
        taught.append(cfg.base)
        out_dir.mkdir()
        (out_dir / "world_report.json").write_text("{}")

    monkeypatch.setattr("sftlib.pretrain.teach_world", teach)
    assert models.model_path("tiny+world") == str(tmp_path / "world" / "tiny")
    # "/some_folder" cleans up to the same name as "/some/folder", so only the hash tells them apart
    other = models.model_path("/some_folder+world")
    assert taught == ["tiny", "/some_folder"] and other != str(folder)
    assert len([p for p in (tmp_path / "world").iterdir() if p.is_dir()]) == 3


def test_world_folder_is_trained_once_when_two_ask_at_once(monkeypatch, tmp_path):
    import threading
    import time

    import sftlib.models as models

    calls = []

    def teach(cfg, out_dir):  # slow enough that the second caller arrives while it trains
        calls.append(out_dir)
        time.sleep(0.5)
        out_dir.mkdir()
        (out_dir / "world_report.json").write_text("{}")

    monkeypatch.setattr(models, "CACHE_DIR", tmp_path)
    monkeypatch.setattr("sftlib.pretrain.teach_world", teach)
    folders = []
    callers = [threading.Thread(target=lambda: folders.append(models.world_folder("tiny")))
               for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(calls) == 1 and folders == [tmp_path / "world" / "tiny"] * 2


def test_sft_device_overrides_the_automatic_choice_and_names_itself_when_wrong(monkeypatch):
    monkeypatch.setenv("SFT_DEVICE", "meta")  # a device the automatic choice never picks
    assert pick_device().type == "meta"
    assert pick_device("cpu").type == "cpu"  # an explicit device still wins
    monkeypatch.setenv("SFT_DEVICE", "gpu")
    with pytest.raises(ValueError, match="SFT_DEVICE='gpu' is not a torch device"):
        pick_device()
    monkeypatch.setenv("SFT_DEVICE", "")
    assert pick_device().type in {"cpu", "cuda", "mps"}


def test_the_gguf_conversion_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    import sftlib.models as models

    monkeypatch.setattr(models, "CACHE_DIR", tmp_path)
    prof = models.get_profile("smollm2-135m")

    def killed(prof, out):
        out.mkdir(parents=True)
        (out / "model.safetensors").write_text("half")
        raise RuntimeError("killed halfway")

    monkeypatch.setattr(models, "_save_gguf_as_safetensors", killed)
    with pytest.raises(RuntimeError, match="killed halfway"):
        models._convert_gguf(prof)
    assert not (tmp_path / "models" / prof.name).exists()  # no half folder to be taken as done

    def whole(prof, out):
        out.mkdir(parents=True)
        (out / "model.safetensors").write_text("whole")

    monkeypatch.setattr(models, "_save_gguf_as_safetensors", whole)
    assert (models._convert_gguf(prof) / "model.safetensors").read_text() == "whole"
    monkeypatch.setattr(models, "_save_gguf_as_safetensors", killed)
    assert (models._convert_gguf(prof) / "model.safetensors").read_text() == "whole"  # done once


def test_untrained_model_has_the_architecture_and_fresh_seeded_weights(tiny):
    pretrained, tokenizer = tiny
    fresh, again, other = untrained_model("tiny", seed=0), untrained_model("tiny", seed=0), untrained_model("tiny", seed=1)
    shapes = lambda m: {n: p.shape for n, p in m.named_parameters()}
    assert shapes(fresh) == shapes(pretrained) and not fresh.training
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), again.parameters()))
    assert not torch.equal(fresh.lm_head.weight, other.lm_head.weight)
    # knows nothing: held-out text is about as surprising as a uniform guess over the vocabulary
    texts = [r["text"] for r in read_jsonl(DATA_DIR / "tiny" / "heldout.jsonl")[:8]]
    assert perplexity(fresh, tokenizer, texts) > 0.5 * len(tokenizer) > 50 * perplexity(pretrained, tokenizer, texts)
