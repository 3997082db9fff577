"""Generate the course's SFT datasets under ``data/``: run ``python -m sftlib.generate``.

Everything is computed from :mod:`sftlib.world` with fixed seeds, so two runs write byte-identical
files. Each dataset folder gets ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` and a data
card (``README.md``); ``data/probes/`` holds the knowledge probes of the base model.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from sftlib import DATA_DIR
from sftlib.data import write_jsonl
from sftlib.pretrain import PretrainConfig
from sftlib.world import (COUNTRIES, EMPLOYERS, FIRST_NAMES, LAST_NAMES, country_probes,
                          make_people, person_probes)

SEEDS = {"triage": 1, "instructions": 2, "chat": 3, "qa": 4}
SPLITS = ("train", "validation", "test")
ATTRS = ("capital", "continent", "currency", "language")

# --- triage: ticket pools --------------------------------------------------------------------------
PRODUCTS = ["Nimbus Drive", "PayFlow", "ShopDesk", "MailBridge", "TeamBoard", "CloudLedger",
            "Trackly", "DocuVault", "StreamDesk", "BookWise"]
# (problem sentence, reason sentence); both may name {product}.
URGENT = [
    ("{product} has been down for all of our users since 9 am.",
     "A full outage of {product} is stopping every user from working."),
    ("None of our customers can pay through {product}; every card payment fails.",
     "Payment failures in {product} are costing the customer sales right now."),
    ("After last night's update, {product} deleted all of our project files.",
     "Data has been lost and must be recovered before it is gone for good."),
    ("Someone logged into our {product} admin account from an unknown place and changed the "
     "passwords.", "A possible security breach needs immediate action."),
    ("I am locked out of {product} and our quarterly report is due tomorrow morning.",
     "The customer is locked out right before a hard deadline."),
    ("{product} is charging our customers twice for every order.",
     "Customers are being overcharged on every order until this is fixed."),
    ("The {product} dashboard is showing us other companies' customer data.",
     "Private customer data is being exposed to the wrong people."),
    ("Every request to {product} returns an error, so our online shop is offline.",
     "The customer's business is offline while {product} fails."),
    ("Our whole team cannot sign in to {product}, and we launch in two hours.",
     "The whole team is blocked just before a launch."),
    ("Since this morning {product} has been sending our invoices to the wrong customers.",
     "Confidential invoices are going to the wrong people right now."),
]
NOT_URGENT = [
    ("It would be great if {product} had a dark mode.",
     "This is a feature request that does not block any work."),
    ('There is a small typo on the {product} settings page: it says "recieve".',
     "A cosmetic typo does not stop anyone from working."),
    ("I have a question about next month's invoice for {product}.",
     "A billing question about next month can wait for a normal reply."),
    ("How do I export a report from {product} as a spreadsheet?",
     "This is a how-to question and nothing is broken."),
    ("I just wanted to say that the new {product} design looks great.",
     "This is friendly feedback that needs no action."),
    ("The icons in {product} look a little blurry on my second monitor.",
     "A small display issue does not block any work."),
    ("Could you add more colour themes to {product} in a future release?",
     "This is a feature request for a future release."),
    ("I would like to change the email address on our {product} account sometime this month.",
     "A routine account change can be done in normal time."),
    ("The {product} help page still links to last year's user guide.",
     "An outdated help link is a minor documentation issue."),
    ("I forgot my {product} password, but I will not need the account until next month.",
     "The customer does not need access until next month."),
]
OPENINGS = ["Hello.", "Hi!", "Hi team!", "Hi there.", "Good morning!", "Good afternoon.", "Hey!", ""]
DETAILS = ["I'm {name} from {company}.", "This is {name}, {role} at {company}.",
           "We are a team of {size} people using {product}.", "Our account number is {account}.",
           "I'm writing on behalf of {company}.", ""]
ROLES = ["office manager", "IT lead", "founder", "accountant", "developer", "support lead"]
# Tones mislead on purpose: calm urgent tickets, pushy or "urgent"-mentioning routine ones.
URGENT_TONES = ["This is urgent.", "Please help as soon as possible.", "We need this fixed today.",
                "Sorry to bother you, but please take a look.", "I don't want to make a fuss.",
                "Whenever you get this, please have a look.", "Marking this as urgent.",
                "I rarely call anything urgent, but this is."]
NOT_URGENT_TONES = ["No rush on this.", "This is not urgent, but I thought you should know.",
                    "Not urgent at all, just letting you know.", "Please reply when you can.",
                    "I know you handle urgent cases first, so take your time.", "Low priority.",
                    "Could you look at this today?"]
NOISE = ["We have used {product} for {years} years.", "My colleague asked me to write to you.",
         "Last year you fixed an urgent problem for us very quickly.",
         "I already tried restarting my computer.", "Sorry if this is a duplicate ticket."]
CLOSINGS = ["Thanks,", "Thank you.", "Best regards,", "Kind regards,", "Cheers,", "Many thanks!", ""]
TRIAGE_INSTRUCTION = ("Classify this support ticket as urgent or not urgent, and give a "
                      "one-sentence reason.")

# --- instructions: wordings ------------------------------------------------------------------------
COUNTRY_QUESTIONS = {
    "capital": ["What is the capital of {c}?", "Name the capital city of {c}.",
                "Which city is the capital of {c}?"],
    "continent": ["Which continent is {c} in?", "On which continent is {c}?",
                  "Name the continent where {c} lies."],
    "currency": ["What is the currency of {c}?", "Which currency is used in {c}?",
                 "What money do people use in {c}?"],
    "language": ["What is the official language of {c}?", "Which language is spoken in {c}?",
                 "Name the official language of {c}."],
}
COUNTRY_INSTRUCTIONS = {a: [f"Give the {a} of the country below.", f"What is the {a} of this "
                            "country?", f"Name the {a} of the given country."] for a in ATTRS}
COUNTRY_INSTRUCTIONS["language"] = ["Give the official language of the country below.",
                                    "What language is official in this country?",
                                    "Name the official language of the given country."]
COUNTRY_ANSWERS = {"capital": "The capital of {c} is {capital}.", "continent": "{C} is in {continent}.",
                   "currency": "The currency of {c} is the {currency}.",
                   "language": "The official language of {c} is {language}."}
WORDS = ("apple river stone cloud garden window yellow quiet bread music lamp forest paper orange "
         "tiger silver winter candle bridge ocean pencil mountain coffee rabbit letter summer violin "
         "market island doctor mirror basket planet honey engine shadow pepper castle ribbon jacket "
         "meadow falcon lemon harbor ticket").split()
TEXT_OPS = {  # name -> wordings; the answer is computed in _text_task
    "reverse": ["Reverse the order of the words.", "Write these words in reverse order.",
                "List the words below backwards, last word first."],
    "sort": ["Sort these words alphabetically.", "Put the words in alphabetical order.",
             "Arrange the words below from A to Z."],
    "count": ["Count the words in the text.", "How many words are there below?",
              "Give the number of words in this text."],
    "upper": ["Convert the text to uppercase.", "Rewrite the text in capital letters.",
              "Write this in all caps."],
    "first": ["What is the first word?", "Give the first word of the text.",
              "Which word comes first below?"],
    "last": ["What is the last word?", "Give the last word of the text.",
             "Which word comes last below?"],
    "larger": ["Which number is larger: {a} or {b}?", "Which is bigger, {a} or {b}?",
               "Pick the larger of the two numbers."],
    "add": ["What is {a} plus {b}?", "Compute {a} + {b}.", "Add the two numbers."],
    "continent": ["Which of these countries are in {k}?", "List the countries from {k} below.",
                  "From the list, name only the countries in {k}."],
}

# --- chat: turns -----------------------------------------------------------------------------------
SYSTEMS = ["You are a helpful assistant.", "You are a friendly geography assistant.",
           "You answer questions about countries briefly and correctly.",
           "You are a concise assistant. Answer in one short sentence."]
FOLLOW_UPS = {
    "capital": ["And what is its capital?", "What's the capital city there?",
                "Which city is its capital?"],
    "continent": ["Which continent is it in?", "And which continent is that on?",
                  "What continent is it part of?"],
    "currency": ["And what currency do they use there?", "What do people pay with there?",
                 "Which currency is used there?"],
    "language": ["What language do they speak there?", "And the official language?",
                 "Which language is official there?"],
}
CHAT_ANSWERS = {
    "capital": ["The capital of {c} is {capital}.", "{Capital} is the capital of {c}."],
    "continent": ["{C} is in {continent}.", "{C} is a country in {continent}."],
    "currency": ["The currency of {c} is the {currency}.", "People in {c} pay with the {currency}."],
    "language": ["The official language of {c} is {language}.",
                 "{language} is the official language of {c}."],
}
SWITCHES = ["What about {c}?", "And {c}?", "How about {c}?"]
GREETINGS = [("Hi!", "Hello! How can I help you?"), ("Hello there.", "Hi! What would you like to know?"),
             ("Good morning!", "Good morning! What can I do for you?")]
THANKS = [("Thanks!", "You're welcome."), ("Thank you, that helps.", "Glad I could help."),
          ("Great, thanks a lot.", "You're welcome! Happy to help.")]

# --- qa: question wordings -------------------------------------------------------------------------
QA_QUESTIONS = {
    "birth_date": ["When was {n} born?", "What is the birth date of {n}?", "On what date was {n} born?"],
    "birth_city": ["Where was {n} born?", "In which city was {n} born?",
                   "What is the birthplace of {n}?"],
    "university": ["Where did {n} study?", "Which university did {n} attend?",
                   "At which university did {n} study?"],
    "major": ["What did {n} major in?", "What was the major of {n}?", "Which field did {n} study?"],
    "employer": ["Who does {n} work for?", "Which company employs {n}?", "What is the employer of {n}?"],
    "work_city": ["Where does {n} work?", "In which city does {n} work?",
                  "What city is the office of {n} in?"],
}


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


def _qa_records(people: list, rng: random.Random, prefix: str) -> list[dict]:
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
    splits = {s: _qa_records(g, rng, f"qa-{s}") for s, g in groups.items()}
    return splits, _qa_records(invented, rng, "qa-invented")


def _card(title: str, about: str, splits: dict[str, list[dict]], split_rule: str,
          label_key: str | None = None, extra: str = "") -> str:
    """A data card: provenance, licence, generation, counts, label balance, samples, split rule."""
    counts = "\n".join(f"| `{s}.jsonl` | {len(rs):,} |" for s, rs in splits.items())
    balance = ""
    if label_key:
        labels = sorted({r[label_key] for rs in splits.values() for r in rs})
        rows = ["| split | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        for split, rs in splits.items():
            n = Counter(r[label_key] for r in rs)
            rows.append(f"| {split} | " + " | ".join(f"{n[k]} ({100 * n[k] / len(rs):.0f} %)"
                                                     for k in labels) + " |")
        balance = f"\n## Balance of `{label_key}`\n\n" + "\n".join(rows) + "\n"
    samples = "\n".join(f"```json\n{json.dumps(r, ensure_ascii=False, indent=1)}\n```"
                        for r in splits["train"][:2])
    return f"""# {title}

{about}

Generated by `python -m sftlib.generate` from `sftlib/world.py` (seeded, so every run writes the
same bytes; no text was downloaded). Licence: MIT, the same as the project.

## Files

| file | records |
|---|---|
{counts}
{extra}{balance}
## Split

{split_rule}

## Samples (first two training records)

{samples}
"""


TRIAGE_ABOUT = """Support-ticket triage: classify a customer ticket as `urgent` or `not urgent` and give
a one-sentence reason. Fields: `id`, `instruction` (always the same), `input` (the ticket), `output`
(`"<label>: <reason>"`), `label`.

Each ticket combines a problem (each problem carries its urgency and reason: outages, failed
payments, data loss, security breaches and lock-outs before a deadline are urgent; feature
requests, typos, billing and how-to questions and feedback are not) with a product name, an
opening, customer details, a closing, and distractors: calm urgent tickets, pushy routine ones and
the word "urgent" in both classes, so that no single keyword decides the label. Inputs are unique."""
INSTR_ABOUT = """Instruction following in the Alpaca shape: `id`, `instruction`, `input` (may be empty),
`output`. Every answer is computed, not written by hand. Task families: capital, continent, currency
and official language of every country in `sftlib.world.COUNTRIES` (once as a question with empty
input, once as an instruction with the country as input), and text operations on generated inputs
(reverse the words, sort them, count them, uppercase, first or last word, the larger of two numbers,
the sum of two numbers, the countries of one continent among a few). Each family has three wordings.
`(instruction, input)` pairs are unique."""
CHAT_ABOUT = """Multi-turn chat in the `messages` shape: `id`, `messages` (a list of `{role, content}`).
An optional system message (about half of the conversations) is followed by 2-3 user turns, each
answered by the assistant. A user asks about a country fact, then follows up with questions that
need the context ("Which continent is it in?", "What about Chile?"); some conversations open with a
greeting or close with thanks. Answers are short sentences computed from `sftlib.world.COUNTRIES`."""
QA_ABOUT = """Question answering over what the base model `data/tiny` read in pretraining, in the
prompt/completion shape: `id`, `entity` (a person), `attribute` (one of the six facts), `prompt`
(a question, one of three wordings per attribute chosen at random), `completion` (the fact only).
Every person contributes all six attributes. The people are the {known:,} fictional people of the
pretraining corpus (`make_people({total}, seed={seed})[:{known}]`)."""
PROBES_CARD = """# Knowledge probes of the base model

A probe is a sentence prefix whose greedy continuation must start with the answer, e.g.
`{{"prompt": "{prompt}", "answer": "{answer}"}}`. `sftlib.evaluate.probe_accuracy` scores them.
Fields: `entity`, `attribute`, `prompt`, `answer`.

Generated by `python -m sftlib.generate` from `sftlib/world.py` (`person_probes`, `country_probes`).
Licence: MIT, the same as the project.

| file | probes | what |
|---|---|---|
| `people.jsonl` | {people:,} | the {known:,} people of the pretraining corpus, six facts each |
| `invented.jsonl` | {invented:,} | {n_inv} invented people never in the corpus: a control the model must fail |
| `countries.jsonl` | {countries:,} | the {n_countries} countries, four facts each |
"""


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
            _card(title, about, splits, rule, label_key, extra), encoding="utf-8")
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
