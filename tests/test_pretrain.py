import json
from pathlib import Path

import torch

from sftlib.pretrain import (SMOKE, PretrainConfig, build_corpus, main, tokenize_documents,
                             train_tokenizer)


def test_corpus_and_tokenizer_are_reproducible():
    cfg = PretrainConfig(**SMOKE)
    docs_a, held_a = build_corpus(cfg)
    docs_b, held_b = build_corpus(cfg)
    assert docs_a == docs_b and held_a == held_b
    assert not set(held_a) & set(docs_a)  # held-out texts are new wordings
    tok_a, tok_b = train_tokenizer(docs_a, 600), train_tokenizer(docs_b, 600)
    assert tok_a.get_vocab() == tok_b.get_vocab()


def test_documents_are_rows_that_start_with_bos_and_end_with_eos():
    import pytest

    cfg = PretrainConfig(**SMOKE)
    docs, _ = build_corpus(cfg)
    tokenizer = train_tokenizer(docs, 600)
    rows = tokenize_documents(docs, tokenizer, 256)
    assert len(rows) == len(docs)
    assert all(r[0] == tokenizer.bos_token_id and r[-1] == tokenizer.eos_token_id for r in rows)
    with pytest.raises(ValueError, match=r"exceed max_length=5 .* and \d+ more"):
        tokenize_documents(docs, tokenizer, 5)
    longest = max(range(len(rows)), key=lambda i: len(rows[i]))
    limit = len(rows[longest]) - 1
    with pytest.raises(ValueError, match=rf": documents {longest} \({limit + 1} tokens\),"):
        tokenize_documents(docs, tokenizer, limit)


def test_smoke_pretraining_writes_a_loadable_model(tmp_path, capsys):
    from sftlib.models import load_model

    main(["--smoke", "--out-dir", str(tmp_path)])
    report = json.loads((tmp_path / "pretrain_report.json").read_text())
    assert report["parameters"] > 0 and 0 < report["tokens_seen"] <= 5 * 4 * 256
    assert "Measured on the shipped weights" in (tmp_path / "README.md").read_text()
    model, tokenizer = load_model(str(tmp_path), device="cpu")
    assert model.dtype == torch.float32
    assert tokenizer.chat_template is not None


def test_teach_world_teaches_a_model_people_it_never_read_about(tmp_path, capsys):
    import pytest

    from sftlib.models import load_model
    from sftlib.pretrain import WorldConfig, teach_world

    # tiny knows the default world's people; a world from another seed is new to it
    cfg = WorldConfig(base="tiny", epochs=4, batch_size=8, lr=1e-3, probe_sample=40, replay=30,
                      world=PretrainConfig(**{**SMOKE, "seed": 7, "bios_per_person": 4}))
    report = teach_world(cfg, tmp_path)
    assert report["corpus_documents"] == len(build_corpus(cfg.world)[0]) + 30  # replayed old docs
    before, after = report["probe_accuracy_before"], report["probe_accuracy_after"]
    assert before["people"] < 0.2 and after["people"] > before["people"] + 0.5
    assert after["invented_people"] < 0.2  # people kept out of the corpus stay unknown
    assert [c["epoch"] for c in report["probe_curve"]] == [1.0, 2.0, 3.0, 4.0]
    assert report["tokens_seen"] == 4 * report["corpus_tokens"]
    assert json.loads((tmp_path / "world_report.json").read_text())["final_train_loss"] > 0
    model, _ = load_model(str(tmp_path), device="cpu")
    assert model.dtype == torch.float32
    capsys.readouterr()  # what teach_world printed
    for wrong, message in (
            (["--world", "tiny"], "--world needs --out-dir"),
            (["--world", "tiny", "--out-dir", str(tmp_path), "--max-steps", "5"],  # not read there
             "--max-steps is for pretraining tiny; with --world, give --epochs"),
            (["--smoke", "--epochs", "2"],  # not read without --world
             "--epochs needs --world (pretraining tiny counts --max-steps)")):
        with pytest.raises(SystemExit) as exit_:
            main(wrong)
        assert exit_.value.code == 2  # argparse's usage error
        assert f"error: {message}\n" in capsys.readouterr().err, wrong


def test_a_failed_pretraining_leaves_no_scratch_folder(tmp_path, monkeypatch):
    import pytest
    from transformers import Trainer

    from sftlib import runner

    made, scratch_dir = [], runner.scratch_dir

    def recorded(prefix: str = "sft-") -> str:
        made.append(scratch_dir(prefix))
        return made[-1]

    monkeypatch.setattr(runner, "scratch_dir", recorded)

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt  # as a learner's "interrupt kernel" in the middle of training

    monkeypatch.setattr(Trainer, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["--smoke", "--out-dir", str(tmp_path)])
    assert len(made) == 1 and made[0].rsplit("/", 1)[-1].startswith("pretrain-")
    assert not Path(made[0]).exists()
