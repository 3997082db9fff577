"""Accuracy of predicted labels, as a local ``evaluate`` metric that needs no hub access.

Load it with ``evaluate.load("path/to/accuracy.py")`` or
``sftlib.evaluate.load_metric("accuracy")``.
"""

import datasets
import evaluate

_DESCRIPTION = "Share of predictions that equal their reference label, a float in [0, 1]."

_INPUTS = """
Args:
    predictions: predicted labels as strings, e.g. "urgent" / "not urgent"; one per example.
    references: the true labels, same length and order.

Returns:
    accuracy: matching pairs / number of pairs, in [0, 1].

Example:
    >>> metric.compute(predictions=["urgent", "urgent"], references=["urgent", "not urgent"])
    {'accuracy': 0.5}
"""


class Accuracy(evaluate.Metric):
    """Label accuracy: ``{"accuracy": float}``."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",  # a plain share of matches: nothing to cite
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions: list[str], references: list[str]) -> dict[str, float]:
        hits = sum(p == r for p, r in zip(predictions, references))
        return {"accuracy": hits / len(references)}
