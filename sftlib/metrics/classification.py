"""Precision, recall, F1 and the confusion matrix of string labels, as a local ``evaluate`` metric.

Scores come from scikit-learn; nothing is fetched from the hub. Load it with
``evaluate.load("path/to/classification.py")`` or ``sftlib.evaluate.load_metric("classification")``.
"""

import datasets
import evaluate
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

_DESCRIPTION = ("Precision, recall and F1 over string labels (macro-averaged unless told "
                "otherwise, or for one positive label), plus the confusion matrix.")

_CITATION = """
@article{pedregosa2011scikit,
  title   = {Scikit-learn: Machine Learning in {P}ython},
  author  = {Pedregosa, F. and Varoquaux, G. and Gramfort, A. and others},
  journal = {Journal of Machine Learning Research},
  volume  = {12},
  pages   = {2825--2830},
  year    = {2011}
}
"""

_INPUTS = """
Args:
    predictions: predicted labels as strings, one per example.
    references: the true labels, same length and order.
    labels: the label order of the confusion matrix, also the labels averaged over; default: the
        sorted union of predicted and true labels.
    positive: score only this label (binary precision/recall/F1, e.g. "urgent"); the data must
        then hold at most two distinct labels. Default None: average over ``labels``.
    average: how per-label scores are combined when ``positive`` is None: "macro" (plain mean,
        the default), "micro" (pooled counts) or "weighted" (mean weighted by true-label counts).

Returns:
    precision, recall, f1: floats in [0, 1]; a label never predicted (or never true) scores 0.
    confusion_matrix: list of lists, [i][j] = number of examples with true label labels[i] that
        were predicted as labels[j].
    labels: the label order used for the matrix.

Example:
    >>> metric.compute(predictions=["urgent", "urgent"], references=["urgent", "not urgent"],
    ...                positive="urgent")["precision"]
    0.5
"""


class Classification(evaluate.Metric):
    """Label precision/recall/F1 and confusion matrix."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions: list[str], references: list[str],
                 labels: list[str] | None = None, positive: str | None = None,
                 average: str = "macro") -> dict:
        order = list(labels) if labels is not None else sorted(set(references) | set(predictions))
        averaging = ({"average": "binary", "pos_label": positive} if positive is not None
                     else {"average": average, "labels": order})
        precision, recall, f1, _ = precision_recall_fscore_support(
            references, predictions, zero_division=0, **averaging)
        matrix = confusion_matrix(references, predictions, labels=order)
        return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                "confusion_matrix": matrix.tolist(), "labels": order}
