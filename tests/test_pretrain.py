import json

import torch

from sftlib.pretrain import SMOKE, PretrainConfig, build_corpus, main, pack, train_tokenizer


def test_corpus_and_tokenizer_are_reproducible():
    cfg = PretrainConfig(**SMOKE)
    docs_a, held_a = build_corpus(cfg)
    docs_b, held_b = build_corpus(cfg)
    assert docs_a == docs_b and held_a == held_b
    assert not set(held_a) & set(docs_a)  # held-out texts are new wordings
    tok_a, tok_b = train_tokenizer(docs_a, 600), train_tokenizer(docs_b, 600)
    assert tok_a.get_vocab() == tok_b.get_vocab()


def test_pack_makes_full_rows_with_document_boundaries():
    cfg = PretrainConfig(**SMOKE)
    docs, _ = build_corpus(cfg)
    tokenizer = train_tokenizer(docs, 600)
    rows = pack(docs, tokenizer, 64)
    assert rows and all(len(r) == 64 for r in rows)
    flat = [t for r in rows for t in r]
    assert flat[0] == tokenizer.bos_token_id
    assert flat.count(tokenizer.eos_token_id) >= len(rows) - 1


def test_smoke_pretraining_writes_a_loadable_model(tmp_path, capsys):
    from sftlib.models import load_model

    main(["--smoke", "--out-dir", str(tmp_path)])
    report = json.loads((tmp_path / "pretrain_report.json").read_text())
    assert report["parameters"] > 0 and report["tokens_seen"] == 5 * 4 * 64
    assert "Measured on the shipped weights" in (tmp_path / "README.md").read_text()
    model, tokenizer = load_model(str(tmp_path), device="cpu")
    assert model.dtype == torch.float32
    assert tokenizer.chat_template is not None
