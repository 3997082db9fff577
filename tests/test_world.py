import random

from sftlib.world import (COUNTRIES, PROBE_TEMPLATES, biography, country_probes, country_text,
                          make_people, person_probes)


def test_make_people_is_deterministic_and_unique():
    a, b = make_people(300, seed=3), make_people(300, seed=3)
    assert a == b
    assert len({p.name for p in a}) == 300
    assert make_people(300, seed=4) != a


def test_make_people_refuses_more_than_the_names_allow():
    import pytest

    with pytest.raises(ValueError, match="unique names"):
        make_people(10**6)
    with pytest.raises(ValueError, match="n must be 0 or more"):
        make_people(-1)  # a slice would have given all but the last name
    assert make_people(2, seed=0)[0].name == "Maya Wexley"  # the docstring's example


def test_biography_states_every_fact_and_varies():
    person = make_people(1, seed=0)[0]
    rng = random.Random(0)
    bios = {biography(person, rng) for _ in range(20)}
    assert len(bios) > 10  # several wordings and orders
    for bio in bios:
        assert person.name in bio.split(". ")[0]  # the first sentence names the person
        facts = person.facts()
        month_day, year = facts.pop("birth_date").split(", ")
        assert month_day in bio and year in bio
        for value in facts.values():
            assert value in bio


def test_country_text_states_every_fact():
    text = country_text(COUNTRIES[0], random.Random(1))
    for value in COUNTRIES[0][1:]:
        assert value in text


def test_probes_pair_prompts_with_facts():
    people = make_people(5, seed=0)
    probes = person_probes(people)
    assert len(probes) == 5 * len(PROBE_TEMPLATES)
    first = probes[0]
    assert first["prompt"].startswith(people[0].name)
    assert first["answer"] == people[0].facts()[first["attribute"]]
    capitals = {p["entity"]: p["answer"] for p in country_probes() if p["attribute"] == "capital"}
    assert capitals["France"] == "Paris" and capitals["Peru"] == "Lima"
