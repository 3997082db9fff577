"""Lesson 02, exercise 4: trained_spans(labels) -> the runs of trained positions, half-open."""

import pytest

from sftlib.models import load_tokenizer
from sftlib.templates import tokenize_chat


@pytest.mark.parametrize("labels, spans", [
    ([-100, -100, 5, 6, -100, 7], [(2, 4), (5, 6)]),
    ([1, 2, 3], [(0, 3)]),
    ([-100, -100], []),
    ([], []),
    ([0, -100, 0], [(0, 1), (2, 3)]),  # token id 0 is a trained label like any other
])
def test_spans(exercise, labels, spans):
    assert exercise["trained_spans"](labels) == spans


def test_another_ignore_index(exercise):
    assert exercise["trained_spans"]([-1, 4, -100, -1], ignore_index=-1) == [(1, 3)]


def test_spans_of_a_real_chat_cover_exactly_the_trained_tokens(exercise):
    tokenizer = load_tokenizer("tiny")
    messages = [{"role": "user", "content": "Where was Ada born?"},
                {"role": "assistant", "content": "Lima"},
                {"role": "user", "content": "And her employer?"},
                {"role": "assistant", "content": "Orbis Labs"}]
    labels = tokenize_chat(messages, tokenizer)["labels"]
    spans = exercise["trained_spans"](labels)
    assert len(spans) == 2  # one per assistant turn
    covered = {i for start, end in spans for i in range(start, end)}
    assert covered == {i for i, label in enumerate(labels) if label != -100}
