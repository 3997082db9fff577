"""Shared fixtures: the embedded model is loaded once per test session, offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny():
    """``(model, tokenizer)`` of the embedded ``tiny`` profile on CPU, float32."""
    from sftlib.models import load_model

    return load_model("tiny", device="cpu")


@pytest.fixture
def chatml_tokenizer():
    """A tokenizer laid out as SmolLM2's: ChatML, BOS ``<|im_start|>`` that it does not add itself,
    EOS ``<|im_end|>`` followed by a newline in the template (``tiny``'s vocabulary; a fresh one
    per test, which may change it)."""
    from sftlib.models import load_tokenizer
    from sftlib.templates import CHATML_TEMPLATE

    tokenizer = load_tokenizer("tiny")
    tokenizer.add_special_tokens({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"})
    tokenizer.add_bos_token = False
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer
