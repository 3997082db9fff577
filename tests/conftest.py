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
