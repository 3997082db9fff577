"""Exact match of generated text against references, as a local ``evaluate`` metric (no hub).

Load it with ``evaluate.load("path/to/exact_match.py")`` or
``sftlib.evaluate.load_metric("exact_match")``.
"""

import datasets
import evaluate

_DESCRIPTION = "Share of predictions identical to their reference after optional normalisation."

_INPUTS = """
Args:
    predictions: generated strings, one per example.
    references: expected strings, same length and order.
    ignore_case: compare case-folded text ("Paris" matches "paris"). Default False.
    strip: drop leading and trailing whitespace before comparing. Default True.

Returns:
    exact_match: matching pairs / number of pairs, in [0, 1].

Example:
    >>> metric.compute(predictions=[" Paris", "rome"], references=["Paris", "Rome"])
    {'exact_match': 0.5}
"""


def _normalise(text: str, ignore_case: bool, strip: bool) -> str:
    """``text`` without surrounding whitespace (``strip``), case-folded (``ignore_case``)."""
    text = text.strip() if strip else text
    return text.casefold() if ignore_case else text


class ExactMatch(evaluate.Metric):
    """String exact match: ``{"exact_match": float}``."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",  # a plain share of matches: nothing to cite
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions: list[str], references: list[str], ignore_case: bool = False,
                 strip: bool = True) -> dict[str, float]:
        hits = sum(_normalise(p, ignore_case, strip) == _normalise(r, ignore_case, strip)
                   for p, r in zip(predictions, references))
        return {"exact_match": hits / len(references)}
