"""ROUGE-1, ROUGE-2 and ROUGE-L of generated text, as a local ``evaluate`` metric (no hub).

Uses Google's ``rouge_score`` package without stemming. Load it with
``evaluate.load("path/to/rouge.py")`` or ``sftlib.evaluate.load_metric("rouge")``.
"""

import datasets
import evaluate
from rouge_score import rouge_scorer

ROUGE_TYPES = ["rouge1", "rouge2", "rougeL"]

_DESCRIPTION = ("Mean ROUGE F-measure over prediction/reference pairs: unigram (rouge1) and "
                "bigram (rouge2) overlap, and longest common subsequence (rougeL).")

_CITATION = """
@inproceedings{lin2004rouge,
  title     = {{ROUGE}: A Package for Automatic Evaluation of Summaries},
  author    = {Lin, Chin-Yew},
  booktitle = {Text Summarization Branches Out},
  pages     = {74--81},
  year      = {2004}
}
"""

_INPUTS = """
Args:
    predictions: generated strings, one per example.
    references: reference strings, same length and order.
    Text is lower-cased and split on non-alphanumeric characters (rouge_score's tokenizer, which
    keeps only a-z and 0-9: it suits English text).

Returns:
    rouge1, rouge2, rougeL: mean F-measure over the pairs, each in [0, 1].

Example:
    >>> metric.compute(predictions=["the cat sat"], references=["the cat sat down"])["rouge1"]
    0.857...
"""


class Rouge(evaluate.Metric):
    """ROUGE F-measures: ``{"rouge1", "rouge2", "rougeL"}``, each a mean over the pairs."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
            codebase_urls=["https://github.com/google-research/google-research/tree/master/rouge"],
        )

    def _compute(self, predictions: list[str], references: list[str]) -> dict[str, float]:
        scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=False)
        scores = [scorer.score(r, p) for p, r in zip(predictions, references)]
        return {t: sum(s[t].fmeasure for s in scores) / len(scores) for t in ROUGE_TYPES}
