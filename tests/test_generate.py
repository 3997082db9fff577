from pathlib import Path

from sftlib import DATA_DIR
from sftlib.data import load_sft_dataset, read_jsonl
from sftlib.generate import build_qa, build_triage, write_all


def test_generator_reproduces_the_shipped_datasets_byte_for_byte(tmp_path):
    counts = write_all(tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(written) >= 20
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (DATA_DIR / rel).read_bytes(), rel
    # and nothing shipped beside them that the generator no longer writes (a stale file);
    # data/tiny/ is the pretrained model, written by sftlib.pretrain, not by the generator
    shipped = sorted(p.relative_to(DATA_DIR) for p in DATA_DIR.rglob("*")
                     if p.is_file() and p.relative_to(DATA_DIR).parts[0] != "tiny")
    assert shipped == written
    cards = {Path(name) / "README.md" for name in ("triage", "instructions", "chat", "qa", "probes")}
    assert set(written) == {Path(rel) for rel in counts} | cards  # records files and data cards


def test_every_shipped_dataset_loads_and_validates():
    for name, schema in [("triage", "alpaca"), ("instructions", "alpaca"), ("chat", "messages"),
                         ("qa", "prompt_completion")]:
        splits = load_sft_dataset(DATA_DIR / name, schema=schema)
        assert set(splits) == {"train", "validation", "test"}
        assert all(len(ds) > 0 for ds in splits.values())


def test_qa_splits_share_no_person_and_triage_is_stratified():
    qa, invented = build_qa()
    people = {s: {r["entity"] for r in rs} for s, rs in qa.items()}
    assert not people["train"] & people["test"] and not people["train"] & people["validation"]
    triage = build_triage()
    shares = {s: sum(r["label"] == "urgent" for r in rs) / len(rs) for s, rs in triage.items()}
    assert max(shares.values()) - min(shares.values()) < 0.02
    assert len(read_jsonl(DATA_DIR / "qa" / "invented.jsonl")) == len(invented) == 1200
