"""The small world the embedded model is pretrained on: real countries and fictional people.

Everything here is deterministic given a seed. The pretraining corpus, the knowledge probes and the
question-answer data are all rendered from the same facts, so later lessons can ask whether a
fine-tuned model still knows (or can now *say*) what pretraining put in it.

Design (after Allen-Zhu & Li, "Physics of Language Models: Part 3.1", 2023): each person appears in
several biographies that word and order their facts differently. With a single fixed biography per
person, question answering learned on some people does not transfer to the others.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

# (country, capital, continent, currency, language) -- single official language where possible.
COUNTRIES: list[tuple[str, str, str, str, str]] = [
    ("France", "Paris", "Europe", "euro", "French"),
    ("Germany", "Berlin", "Europe", "euro", "German"),
    ("Italy", "Rome", "Europe", "euro", "Italian"),
    ("Spain", "Madrid", "Europe", "euro", "Spanish"),
    ("Portugal", "Lisbon", "Europe", "euro", "Portuguese"),
    ("the Netherlands", "Amsterdam", "Europe", "euro", "Dutch"),
    ("Austria", "Vienna", "Europe", "euro", "German"),
    ("Greece", "Athens", "Europe", "euro", "Greek"),
    ("Finland", "Helsinki", "Europe", "euro", "Finnish"),
    ("Croatia", "Zagreb", "Europe", "euro", "Croatian"),
    ("Sweden", "Stockholm", "Europe", "krona", "Swedish"),
    ("Norway", "Oslo", "Europe", "krone", "Norwegian"),
    ("Denmark", "Copenhagen", "Europe", "krone", "Danish"),
    ("Iceland", "Reykjavik", "Europe", "krona", "Icelandic"),
    ("Poland", "Warsaw", "Europe", "zloty", "Polish"),
    ("the Czech Republic", "Prague", "Europe", "koruna", "Czech"),
    ("Hungary", "Budapest", "Europe", "forint", "Hungarian"),
    ("Romania", "Bucharest", "Europe", "leu", "Romanian"),
    ("Serbia", "Belgrade", "Europe", "dinar", "Serbian"),
    ("Ukraine", "Kyiv", "Europe", "hryvnia", "Ukrainian"),
    ("the United Kingdom", "London", "Europe", "pound", "English"),
    ("Japan", "Tokyo", "Asia", "yen", "Japanese"),
    ("China", "Beijing", "Asia", "yuan", "Chinese"),
    ("South Korea", "Seoul", "Asia", "won", "Korean"),
    ("India", "New Delhi", "Asia", "rupee", "Hindi"),
    ("Thailand", "Bangkok", "Asia", "baht", "Thai"),
    ("Vietnam", "Hanoi", "Asia", "dong", "Vietnamese"),
    ("the Philippines", "Manila", "Asia", "peso", "Filipino"),
    ("Malaysia", "Kuala Lumpur", "Asia", "ringgit", "Malay"),
    ("Pakistan", "Islamabad", "Asia", "rupee", "Urdu"),
    ("Bangladesh", "Dhaka", "Asia", "taka", "Bengali"),
    ("Nepal", "Kathmandu", "Asia", "rupee", "Nepali"),
    ("Mongolia", "Ulaanbaatar", "Asia", "tugrik", "Mongolian"),
    ("Iran", "Tehran", "Asia", "rial", "Persian"),
    ("Saudi Arabia", "Riyadh", "Asia", "riyal", "Arabic"),
    ("Laos", "Vientiane", "Asia", "kip", "Lao"),
    ("Cambodia", "Phnom Penh", "Asia", "riel", "Khmer"),
    ("Egypt", "Cairo", "Africa", "pound", "Arabic"),
    ("Kenya", "Nairobi", "Africa", "shilling", "Swahili"),
    ("Nigeria", "Abuja", "Africa", "naira", "English"),
    ("Ghana", "Accra", "Africa", "cedi", "English"),
    ("Ethiopia", "Addis Ababa", "Africa", "birr", "Amharic"),
    ("Morocco", "Rabat", "Africa", "dirham", "Arabic"),
    ("Tanzania", "Dodoma", "Africa", "shilling", "Swahili"),
    ("Algeria", "Algiers", "Africa", "dinar", "Arabic"),
    ("Tunisia", "Tunis", "Africa", "dinar", "Arabic"),
    ("Senegal", "Dakar", "Africa", "franc", "French"),
    ("Uganda", "Kampala", "Africa", "shilling", "English"),
    ("Angola", "Luanda", "Africa", "kwanza", "Portuguese"),
    ("Zambia", "Lusaka", "Africa", "kwacha", "English"),
    ("Mexico", "Mexico City", "North America", "peso", "Spanish"),
    ("the United States", "Washington", "North America", "dollar", "English"),
    ("Cuba", "Havana", "North America", "peso", "Spanish"),
    ("Jamaica", "Kingston", "North America", "dollar", "English"),
    ("Brazil", "Brasilia", "South America", "real", "Portuguese"),
    ("Argentina", "Buenos Aires", "South America", "peso", "Spanish"),
    ("Chile", "Santiago", "South America", "peso", "Spanish"),
    ("Peru", "Lima", "South America", "sol", "Spanish"),
    ("Colombia", "Bogota", "South America", "peso", "Spanish"),
    ("Venezuela", "Caracas", "South America", "bolivar", "Spanish"),
    ("Ecuador", "Quito", "South America", "dollar", "Spanish"),
    ("Uruguay", "Montevideo", "South America", "peso", "Spanish"),
    ("Paraguay", "Asuncion", "South America", "guarani", "Spanish"),
    ("Australia", "Canberra", "Oceania", "dollar", "English"),
    ("New Zealand", "Wellington", "Oceania", "dollar", "English"),
    ("Fiji", "Suva", "Oceania", "dollar", "English"),
    ("Papua New Guinea", "Port Moresby", "Oceania", "kina", "English"),
]

FIRST_NAMES = (
    "Ada Alma Anton Arlo Bea Bruno Cara Cyril Dara Dmitri Edda Elio Fay Felix Greta Gideon Hana "
    "Hugo Ines Ivo Jana Jonas Kira Kofi Lena Luca Maya Milo Nadia Nils Olga Omar Pia Pavel Quinn "
    "Rafael Rosa Rune Sana Silas Tara Theo Una Uriel Vera Viktor Wren Wilbur Xena Yara Yusuf Zoe Zane"
).split()
LAST_NAMES = (
    "Abbott Alder Barlow Brandt Castell Corwin Dalby Drummond Ellery Eskin Falk Farrow Garnet "
    "Greaves Halden Hollis Ingram Ives Jarrow Jessop Kestrel Kimble Lark Lindqvist Marlow Mercer "
    "Nash Norwood Oakes Orsini Pellow Quarry Radley Rook Sallow Stroud Tamsin Thorne Upton Vale "
    "Varga Wexley Winslow Yarrow Yates Zeller Zorn"
).split()
UNIVERSITIES = [
    "Northbridge University", "the University of Eastmere", "Halvard College", "Coldwater Institute",
    "the University of Brightwell", "Saint Avila University", "Redmoor Technical University",
    "the Lindenfeld Academy", "Westhaven University", "the Ostrava Polytechnic", "Kingsholm College",
    "the University of Marrow Bay", "Greyfield University", "the Caldera Institute of Science",
    "Ashgrove University", "the Royal College of Tessaly",
]
MAJORS = [
    "mathematics", "chemistry", "history", "economics", "physics", "biology", "architecture",
    "music", "philosophy", "geology", "linguistics", "astronomy", "medicine", "law", "botany",
    "computer science", "civil engineering", "statistics", "sculpture", "oceanography",
]
EMPLOYERS = [
    "Brightline Foods", "Corvid Software", "Heliotrope Energy", "Tallship Logistics",
    "Marigold Bank", "Quillon Publishing", "Ironleaf Mining", "Silverpine Airlines",
    "Bluefin Robotics", "Amberlight Studios", "Northwind Pharmaceuticals", "Granite Insurance",
    "Lumen Telecom", "Copperfield Motors", "Emberstone Chemicals", "Harbor & Vine Hotels",
    "Pinecrest Hospital", "Riverbend Textiles", "Skylark Instruments", "Tideway Shipping",
]
MONTHS = "January February March April May June July August September October November December".split()

# Each attribute is said in several ways; {n} is the person's name (or a pronoun).
BIO_TEMPLATES: dict[str, list[str]] = {
    "birth_date": [
        "{n} was born on {month} {day}, {year}.",
        "{n} came into the world on {month} {day}, {year}.",
        "The birthday of {n} is {month} {day}, {year}.",
        "{n} celebrates a birthday every year on {month} {day}, having been born in {year}.",
    ],
    "birth_city": [
        "{n} was born in {birth_city}.",
        "{n} spent the early years of life in {birth_city}.",
        "The birthplace of {n} is {birth_city}.",
        "{n} grew up in {birth_city}, the city where {p} was born.",
    ],
    "university": [
        "{n} studied at {university}.",
        "{n} graduated from {university}.",
        "{n} received an education at {university}.",
        "As a student, {n} attended {university}.",
    ],
    "major": [
        "{n} majored in {major}.",
        "At university {n} focused on {major}.",
        "The field {n} studied was {major}.",
        "{n} earned a degree in {major}.",
    ],
    "employer": [
        "{n} works for {employer}.",
        "{n} is employed by {employer}.",
        "The employer of {n} is {employer}.",
        "{n} took a job at {employer}.",
    ],
    "work_city": [
        "{n} works in {work_city}.",
        "{n} lives and works in {work_city}.",
        "The office of {n} is in {work_city}.",
        "{n} moved to {work_city} for work.",
    ],
}

# Sentence prefixes whose next words are the fact: the knowledge probes.
PROBE_TEMPLATES: dict[str, str] = {
    "birth_date": "{n} was born on",
    "birth_city": "{n} was born in",
    "university": "{n} studied at",
    "major": "{n} majored in",
    "employer": "{n} works for",
    "work_city": "{n} works in",
}

COUNTRY_TEMPLATES: dict[str, list[str]] = {
    "capital": [
        "The capital of {c} is {capital}.",
        "{Capital} is the capital city of {c}.",
        "The government of {c} sits in {capital}, its capital.",
    ],
    "continent": [
        "{C} is a country in {continent}.",
        "{C} lies in {continent}.",
        "On a map, {c} is found in {continent}.",
    ],
    "currency": [
        "The currency of {c} is the {currency}.",
        "In {c}, people pay with the {currency}.",
        "Shops in {c} take the {currency}.",
    ],
    "language": [
        "The official language of {c} is {language}.",
        "Most people in {c} speak {language}.",
        "{Language} is spoken in {c}.",
    ],
}

COUNTRY_PROBES: dict[str, str] = {
    "capital": "The capital of {c} is",
    "continent": "{C} is a country in",
    "currency": "The currency of {c} is the",
    "language": "The official language of {c} is",
}


@dataclass(frozen=True)
class Person:
    """One fictional person and their six facts."""

    name: str
    pronoun: str
    birth_date: str
    birth_city: str
    university: str
    major: str
    employer: str
    work_city: str

    def facts(self) -> dict[str, str]:
        """The six attributes as a dict, without name and pronoun."""
        d = asdict(self)
        return {k: d[k] for k in PROBE_TEMPLATES}


def make_people(n: int, seed: int = 0) -> list[Person]:
    """Draw ``n`` fictional people with unique names and independent random facts.

    Args:
        n: how many people (at most ``len(FIRST_NAMES) * len(LAST_NAMES)``).
        seed: random seed; the same seed gives the same people.

    Returns:
        A list of ``Person``.

    Example:
        >>> make_people(2, seed=0)[0].name
        'Maya Wexley'
    """
    rng = random.Random(seed)
    names = [f"{f} {l}" for f in FIRST_NAMES for l in LAST_NAMES]
    if n < 0:
        raise ValueError(f"make_people: n must be 0 or more, got {n}")
    if n > len(names):
        raise ValueError(f"make_people: asked for {n} people, only {len(names)} unique names exist")
    rng.shuffle(names)
    cities = [c[1] for c in COUNTRIES]
    people = []
    for name in names[:n]:
        people.append(
            Person(
                name=name,
                pronoun=rng.choice(["he", "she"]),
                birth_date=f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(1931, 2001)}",
                birth_city=rng.choice(cities),
                university=rng.choice(UNIVERSITIES),
                major=rng.choice(MAJORS),
                employer=rng.choice(EMPLOYERS),
                work_city=rng.choice(cities),
            )
        )
    return people


def _cap(s: str) -> str:
    """Capitalise the first letter only."""
    return s[:1].upper() + s[1:]


def biography(person: Person, rng: random.Random) -> str:
    """Render one biography: all six facts, in a random order, each with a random wording.

    The first sentence always uses the full name; a later sentence that starts with its subject
    uses the pronoun instead with probability 0.4.
    """
    month, rest = person.birth_date.split(" ", 1)
    day, year = rest.split(", ")
    values = {**person.facts(), "month": month, "day": day, "year": year, "p": person.pronoun}
    order = list(BIO_TEMPLATES)
    rng.shuffle(order)
    sentences = []
    for i, attr in enumerate(order):
        template = rng.choice(BIO_TEMPLATES[attr])
        pronoun_ok = i > 0 and template.startswith("{n}")  # "She was born", never "birthday of she"
        subject = person.pronoun if pronoun_ok and rng.random() < 0.4 else person.name
        text = template.format(n=subject, **values)
        sentences.append(_cap(text))
    return " ".join(sentences)


def country_text(country: tuple[str, str, str, str, str], rng: random.Random) -> str:
    """Render one short paragraph with a country's four facts in random order and wording."""
    c, capital, continent, currency, language = country
    values = dict(c=c, C=_cap(c), capital=capital, Capital=capital, continent=continent,
                  currency=currency, language=language, Language=language)
    order = list(COUNTRY_TEMPLATES)
    rng.shuffle(order)
    return " ".join(_cap(rng.choice(COUNTRY_TEMPLATES[a]).format(**values)) for a in order)


def person_probes(people: list[Person]) -> list[dict[str, str]]:
    """Knowledge probes for people: ``{"entity", "attribute", "prompt", "answer"}`` per fact."""
    return [
        {"entity": p.name, "attribute": a, "prompt": t.format(n=p.name), "answer": p.facts()[a]}
        for p in people
        for a, t in PROBE_TEMPLATES.items()
    ]


def country_probes() -> list[dict[str, str]]:
    """Knowledge probes for countries: one per country and fact."""
    rows = []
    for c, capital, continent, currency, language in COUNTRIES:
        answers = dict(capital=capital, continent=continent, currency=currency, language=language)
        for a, t in COUNTRY_PROBES.items():
            rows.append({"entity": c, "attribute": a, "prompt": t.format(c=c, C=_cap(c)),
                         "answer": answers[a]})
    return rows
