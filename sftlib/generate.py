"""Generate the course's SFT datasets under ``data/``: run ``python -m sftlib.generate``.

Everything is computed from :mod:`sftlib.world` with fixed seeds, so two runs write byte-identical
files. Each dataset folder gets ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` and a data
card (``README.md``); ``data/probes/`` holds the knowledge probes of the base model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from sftlib import DATA_DIR
from sftlib.cards import CHAT_ABOUT, INSTR_ABOUT, PROBES_CARD, QA_ABOUT, TRIAGE_ABOUT, data_card
from sftlib.data import write_jsonl
from sftlib.pools import (ATTRS, CHAT_ANSWERS, CLOSINGS, COUNTRY_ANSWERS, COUNTRY_INSTRUCTIONS,
                          COUNTRY_QUESTIONS, DETAILS, FOLLOW_UPS, GREETINGS, NOISE, NOT_URGENT,
                          NOT_URGENT_TONES, OPENINGS, PRODUCTS, QA_QUESTIONS, ROLES, SWITCHES, SYSTEMS,
                          TEXT_OPS, THANKS, TRIAGE_INSTRUCTION, URGENT, URGENT_TONES, WORDS)
from sftlib.pretrain import PretrainConfig
from sftlib.world import (COUNTRIES, EMPLOYERS, FIRST_NAMES, LAST_NAMES, country_probes,
                          make_people, person_probes)

SEEDS = {"triage": 1, "instructions": 2, "chat": 3, "qa": 4}
SPLITS = ("train", "validation", "test")


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _facts(country: tuple[str, str, str, str, str]) -> dict[str, str]:
    """Format fields of one country: c, C, capital, Capital, continent, currency, language."""
    c, capital, continent, currency, language = country
    return dict(c=c, C=_cap(c), capital=capital, Capital=capital, continent=continent,
                currency=currency, language=language)


def _split(records: list[dict], sizes: tuple[int, int, int]) -> dict[str, list[dict]]:
    """Cut ``records`` (already in random order) into train/validation/test of ``sizes``."""
    a, b = sizes[0], sizes[0] + sizes[1]
    return dict(zip(SPLITS, (records[:a], records[a:b], records[b : b + sizes[2]])))


def build_triage(seed: int = SEEDS["triage"], n: int = 1200, urgent_share: float = 0.4,
                 sizes: tuple[int, int, int] = (800, 200, 200)) -> dict[str, list[dict]]:
    """Support tickets labelled urgent / not urgent, split stratified by label.

    Args:
        seed: random seed.
        n: number of tickets (unique inputs).
        urgent_share: fraction labelled ``urgent``.
        sizes: train, validation and test sizes (summing to ``n``).

    Returns:
        ``{"train": [...], "validation": [...], "test": [...]}`` of triage records.
    """
    rng, seen, rows = random.Random(seed), set(), []
    n_urgent = round(n * urgent_share)
    for label, problems, tones, count in [("urgent", URGENT, URGENT_TONES, n_urgent),
                                          ("not urgent", NOT_URGENT, NOT_URGENT_TONES, n - n_urgent)]:
        made = 0
        while made < count:
            problem, reason = rng.choice(problems)
            f = dict(product=rng.choice(PRODUCTS), name=f"{rng.choice(FIRST_NAMES)} "
                     f"{rng.choice(LAST_NAMES)}", company=rng.choice(EMPLOYERS),
                     role=rng.choice(ROLES), size=rng.randint(3, 80),
                     account=rng.randint(100000, 999999), years=rng.randint(2, 9))
            body = [problem.format(**f)]
            if rng.random() < 0.7:
                body.insert(rng.randint(0, 1), rng.choice(tones))
            if rng.random() < 0.4:
                body.append(rng.choice(NOISE).format(**f))
            closing = rng.choice(CLOSINGS)
            closing += f" {f['name'].split()[0]}" if closing.endswith(",") else ""
            parts = [rng.choice(OPENINGS), rng.choice(DETAILS).format(**f), *body, closing]
            text = " ".join(p for p in parts if p)
            if text in seen:
                continue
            seen.add(text)
            made += 1
            rows.append({"instruction": TRIAGE_INSTRUCTION, "input": text,
                         "output": f"{label}: {reason.format(**f)}", "label": label})
    rng.shuffle(rows)
    rows = [{"id": f"triage-{i:05d}", **r} for i, r in enumerate(rows, 1)]
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for label in ("urgent", "not urgent"):
        group = [r for r in rows if r["label"] == label]
        k = [round(s * len(group) / n) for s in sizes]
        for split, part in _split(group, (k[0], k[1], len(group) - k[0] - k[1])).items():
            out[split] += part
    return {s: sorted(rs, key=lambda r: r["id"]) for s, rs in out.items()}


def _text_task(op: str, rng: random.Random) -> tuple[str, str, str]:
    """One text-operation task: ``(instruction, input, output)`` with a computed answer."""
    wording = rng.choice(TEXT_OPS[op])
    if op in ("larger", "add"):
        a, b = rng.sample(range(1, 100 if op == "larger" else 51), 2)
        answer = str(max(a, b) if op == "larger" else a + b)
        if "{a}" in wording:
            return wording.format(a=a, b=b), "", answer
        return wording, f"{a} and {b}", answer
    if op == "continent":
        k = rng.choice(sorted({c[2] for c in COUNTRIES}))
        inside = rng.sample([c[0] for c in COUNTRIES if c[2] == k], rng.randint(1, 3))
        names = inside + rng.sample([c[0] for c in COUNTRIES if c[2] != k], rng.randint(2, 3))
        rng.shuffle(names)
        return wording.format(k=k), ", ".join(names), ", ".join(c for c in names if c in inside)
    words = rng.sample(WORDS, rng.randint(3, 7))
    answer = {"reverse": " ".join(reversed(words)), "sort": " ".join(sorted(words)),
              "count": str(len(words)), "upper": " ".join(words).upper(),
              "first": words[0], "last": words[-1]}[op]
    return wording, " ".join(words), answer


def build_instructions(seed: int = SEEDS["instructions"], n: int = 1500,
                       sizes: tuple[int, int, int] = (1200, 150, 150)) -> dict[str, list[dict]]:
    """Alpaca-shaped tasks: country facts (as questions and with the country as input) and text ops.

    Args:
        seed: random seed.
        n: number of records (unique instruction and input pairs).
        sizes: train, validation and test sizes, cut from a seeded shuffle.

    Returns:
        ``{"train": [...], "validation": [...], "test": [...]}`` of ``{id, instruction, input, output}``.
    """
    rng, rows = random.Random(seed), []
    for country in COUNTRIES:
        f = _facts(country)
        for a in ATTRS:
            answer = COUNTRY_ANSWERS[a].format(**f)
            rows.append((rng.choice(COUNTRY_QUESTIONS[a]).format(**f), "", answer))
            rows.append((rng.choice(COUNTRY_INSTRUCTIONS[a]), f["C"], answer))
    seen = {(i, x) for i, x, _ in rows}
    ops = list(TEXT_OPS)
    while len(rows) < n:
        task = _text_task(ops[len(rows) % len(ops)], rng)
        if task[:2] not in seen:
            seen.add(task[:2])
            rows.append(task)
    rng.shuffle(rows)
    records = [{"id": f"instructions-{i:05d}", "instruction": ins, "input": x, "output": y}
               for i, (ins, x, y) in enumerate(rows, 1)]
    return _split(records, sizes)


def _conversation(rng: random.Random) -> list[dict[str, str]]:
    """One chat: optional system prompt, 2-3 user turns about a country, each answered."""
    country, attr = rng.choice(COUNTRIES), rng.choice(ATTRS)
    plan = rng.choice([["Q", "F"], ["Q", "F"], ["Q", "F", "F"], ["Q", "F", "T"], ["G", "Q", "F"]])
    msgs = [{"role": "system", "content": rng.choice(SYSTEMS)}] if rng.random() < 0.5 else []
    asked = {attr}

    def say(user: str, assistant: str) -> None:
        msgs.extend([{"role": "user", "content": user}, {"role": "assistant", "content": assistant}])

    for step in plan:
        f = _facts(country)
        if step == "G":
            say(*rng.choice(GREETINGS))
        elif step == "T":
            say(*rng.choice(THANKS))
        elif step == "Q":
            question = _cap(rng.choice(COUNTRY_QUESTIONS[attr]).format(**f))
            if "G" not in plan and rng.random() < 0.2:
                question = f"{rng.choice(['Hi!', 'Hello!', 'Quick question:'])} {question}"
            say(question, rng.choice(CHAT_ANSWERS[attr]).format(**f))
        elif rng.random() < 0.25:  # same attribute, another country
            country = rng.choice([c for c in COUNTRIES if c != country])
            f = _facts(country)
            say(rng.choice(SWITCHES).format(**f), rng.choice(CHAT_ANSWERS[attr]).format(**f))
        else:  # another attribute of the same country
            attr = rng.choice([a for a in ATTRS if a not in asked])
            asked.add(attr)
            say(rng.choice(FOLLOW_UPS[attr]), rng.choice(CHAT_ANSWERS[attr]).format(**f))
    return msgs


def build_chat(seed: int = SEEDS["chat"], n: int = 800,
               sizes: tuple[int, int, int] = (640, 80, 80)) -> dict[str, list[dict]]:
    """Multi-turn conversations in the ``messages`` shape, split at random.

    Args:
        seed: random seed.
        n: number of distinct conversations.
        sizes: train, validation and test sizes.

    Returns:
        ``{"train": [...], "validation": [...], "test": [...]}`` of ``{id, messages}``.
    """
    rng, seen, convs = random.Random(seed), set(), []
    while len(convs) < n:
        msgs = _conversation(rng)
        key = json.dumps(msgs)
        if key not in seen:
            seen.add(key)
            convs.append(msgs)
    return _split([{"id": f"chat-{i:05d}", "messages": m} for i, m in enumerate(convs, 1)], sizes)


def qa_records(people: list, rng: random.Random, prefix: str) -> list[dict]:
    """Six question/answer records per person, each with a randomly chosen question wording."""
    rows = []
    for p in people:
        for attr, value in p.facts().items():
            rows.append({"id": f"{prefix}-{len(rows) + 1:05d}", "entity": p.name, "attribute": attr,
                         "prompt": rng.choice(QA_QUESTIONS[attr]).format(n=p.name),
                         "completion": value})
    return rows


def build_qa(seed: int = SEEDS["qa"], sizes: tuple[int, int, int] = (750, 150, 600),
             cfg: PretrainConfig | None = None) -> tuple[dict[str, list[dict]], list[dict]]:
    """Questions about the pretraining people, split by person; plus the invented-people control.

    Args:
        seed: random seed for the person shuffle and the question wordings.
        sizes: number of *people* in train, validation and test (summing to ``cfg.num_people``).
        cfg: the pretraining configuration that decides who is in the corpus (default: shipped).

    Returns:
        ``(splits, invented)``: split records, and records for people never in pretraining.
    """
    cfg = cfg or PretrainConfig()
    people = make_people(cfg.num_people + cfg.num_invented, seed=cfg.seed)
    known, invented = people[: cfg.num_people], people[cfg.num_people :]
    if sum(sizes) != len(known):
        raise ValueError(f"build_qa: sizes {sizes} must add up to the {len(known)} corpus people")
    rng = random.Random(seed)
    order = known[:]
    rng.shuffle(order)
    groups = _split(order, sizes)
    splits = {s: qa_records(g, rng, f"qa-{s}") for s, g in groups.items()}
    return splits, qa_records(invented, rng, "qa-invented")

def write_all(out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Write every dataset and data card under ``out_dir``.

    Args:
        out_dir: the data folder (``data/`` of the project by default).

    Returns:
        Number of records written per file, keyed by the path relative to ``out_dir``.
    """
    cfg = PretrainConfig()
    qa, invented = build_qa(cfg=cfg)
    entities = {s: len({r["entity"] for r in rs}) for s, rs in qa.items()}
    qa_extra = (f"| `invented.jsonl` | {len(invented):,} |\n\nPeople per split: "
                + ", ".join(f"{s} {k}" for s, k in entities.items())
                + f". `invented.jsonl` asks the same questions about the {cfg.num_invented} invented "
                "people, never in pretraining: a control that a model must fail.\n")
    datasets = {
        "triage": (build_triage(), "Support-ticket triage", TRIAGE_ABOUT, "label",
                   "Stratified by label: the urgent and the not-urgent tickets are each shuffled and "
                   "cut 4:1:1 into train, validation and test.", ""),
        "instructions": (build_instructions(), "Instruction following", INSTR_ABOUT, None,
                         "Random: a seeded shuffle cut into 1,200 / 150 / 150.", ""),
        "chat": (build_chat(), "Multi-turn chat", CHAT_ABOUT, None,
                 "Random: conversations in generation order (seeded) cut into 640 / 80 / 80.", ""),
        "qa": (qa, "Question answering about the pretraining people",
               QA_ABOUT.format(known=cfg.num_people, total=cfg.num_people + cfg.num_invented,
                               seed=cfg.seed), "attribute",
               "By entity: the people are shuffled (seeded) and cut 750 / 150 / 600, so no person in "
               "test or validation appears in train. Lesson 07 measures whether question answering "
               "learned on the train people transfers to the test people.", qa_extra),
    }
    written: dict[str, int] = {}
    for name, (splits, title, about, label_key, rule, extra) in datasets.items():
        for split, records in splits.items():
            write_jsonl(records, out_dir / name / f"{split}.jsonl")
            written[f"{name}/{split}.jsonl"] = len(records)
        (out_dir / name / "README.md").write_text(
            data_card(title, about, splits, rule, label_key, extra), encoding="utf-8")
    write_jsonl(invented, out_dir / "qa" / "invented.jsonl")
    written["qa/invented.jsonl"] = len(invented)

    people = make_people(cfg.num_people + cfg.num_invented, seed=cfg.seed)
    probes = {"people": person_probes(people[: cfg.num_people]),
              "invented": person_probes(people[cfg.num_people :]), "countries": country_probes()}
    for name, rows in probes.items():
        write_jsonl(rows, out_dir / "probes" / f"{name}.jsonl")
        written[f"probes/{name}.jsonl"] = len(rows)
    (out_dir / "probes" / "README.md").write_text(PROBES_CARD.format(
        prompt=probes["people"][1]["prompt"], answer=probes["people"][1]["answer"],
        people=len(probes["people"]), invented=len(probes["invented"]),
        countries=len(probes["countries"]), known=cfg.num_people, n_inv=cfg.num_invented,
        n_countries=len(COUNTRIES)), encoding="utf-8")
    return written


def main() -> None:
    """Regenerate all datasets under ``data/`` and print what was written."""
    for path, n in write_all().items():
        print(f"{n:>6,}  data/{path}")


if __name__ == "__main__":
    main()
