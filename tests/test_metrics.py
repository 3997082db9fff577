"""The offline course metrics (``sftlib/metrics``) vs scikit-learn, rouge_score and hand counts."""

import pytest
from rouge_score import rouge_scorer
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from sftlib.evaluate import label_scores, load_metric

U, N = "urgent", "not urgent"
# 12 triage tickets: one urgent ticket missed, two routine ones flagged urgent.
TRUE = [U, U, U, U, U, N, N, N, N, N, N, N]
PRED = [U, U, U, U, N, N, N, N, N, N, U, U]
# The same with one reply that is no label at all, as an undertrained model writes.
PRED_OFF = PRED[:-1] + ["unsure"]


def test_accuracy_matches_sklearn():
    result = load_metric("accuracy").compute(predictions=PRED, references=TRUE)
    assert result == {"accuracy": pytest.approx(accuracy_score(TRUE, PRED))}
    assert result["accuracy"] == pytest.approx(9 / 12)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_classification_matches_sklearn(average):
    result = load_metric("classification").compute(predictions=PRED_OFF, references=TRUE,
                                                   average=average)
    labels = [N, "unsure", U]  # sorted union of true and predicted labels
    precision, recall, f1, _ = precision_recall_fscore_support(
        TRUE, PRED_OFF, labels=labels, average=average, zero_division=0)
    assert result["labels"] == labels
    scores = (result["precision"], result["recall"], result["f1"])
    assert scores == pytest.approx((precision, recall, f1))
    assert result["confusion_matrix"] == confusion_matrix(TRUE, PRED_OFF, labels=labels).tolist()


def test_classification_follows_the_given_label_order():
    result = load_metric("classification").compute(predictions=PRED, references=TRUE, labels=[U, N])
    assert result["labels"] == [U, N]
    assert result["confusion_matrix"] == [[4, 1], [2, 5]]  # rows: true label, columns: predicted


def test_classification_positive_gives_binary_scores():
    result = load_metric("classification").compute(predictions=PRED, references=TRUE, positive=U)
    binary = precision_recall_fscore_support(TRUE, PRED, average="binary", pos_label=U,
                                             zero_division=0)
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx(binary[:3])
    assert (result["precision"], result["recall"]) == pytest.approx((4 / 6, 4 / 5))
    assert result["confusion_matrix"] == [[5, 2], [1, 4]]  # labels sorted: not urgent, urgent


@pytest.mark.parametrize(("options", "hits"), [
    ({}, 2),                                      # Paris, Lima\n
    ({"ignore_case": True}, 4),                   # also " paris ", "lima"
    ({"strip": False}, 1),                        # only the untouched Paris
    ({"strip": False, "ignore_case": True}, 2),   # Paris, lima
])
def test_exact_match_counts_by_hand(options, hits):
    predictions = ["Paris", " paris ", "The answer is 4.", "Lima\n", "lima"]
    references = ["Paris", "Paris", "4", "Lima", "Lima"]
    result = load_metric("exact_match").compute(predictions=predictions, references=references,
                                                **options)
    assert result == {"exact_match": pytest.approx(hits / 5)}


def test_rouge_matches_rouge_score():
    predictions = ["urgent: customer data is exposed to other companies.",
                   "not urgent: a request for more colour themes.",
                   "urgent: the login page is down for every user."]
    references = ["urgent: private customer data is being exposed to the wrong people.",
                  "not urgent: a feature request for extra themes.",
                  "urgent: nobody can log in to the service."]
    result = load_metric("rouge").compute(predictions=predictions, references=references)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    scores = [scorer.score(r, p) for p, r in zip(predictions, references)]
    assert set(result) == {"rouge1", "rouge2", "rougeL"}
    for key, value in result.items():
        assert value == pytest.approx(sum(s[key].fmeasure for s in scores) / len(scores))
    assert load_metric("rouge").compute(predictions=references, references=references) == {
        "rouge1": pytest.approx(1.0), "rouge2": pytest.approx(1.0), "rougeL": pytest.approx(1.0)}


def test_unknown_metric_names_the_known_ones():
    with pytest.raises(ValueError, match="bleu") as error:
        load_metric("bleu")
    for name in ("accuracy", "classification", "exact_match", "rouge"):
        assert name in str(error.value)
    with pytest.raises(ValueError):
        load_metric("__init__")


def test_label_scores_puts_accuracy_and_the_positive_labels_scores_in_one_row():
    row = label_scores(PRED, TRUE, [U, N], positive=U)
    assert list(row) == ["accuracy", "precision", "recall", "f1", "said urgent"]
    assert row["accuracy"] == pytest.approx(9 / 12) and row["said urgent"] == 6  # 4 caught + 2 flagged
    assert (row["precision"], row["recall"]) == (pytest.approx(4 / 6), pytest.approx(4 / 5))
    assert row["f1"] == pytest.approx(2 * (4 / 6) * (4 / 5) / (4 / 6 + 4 / 5))
    always = label_scores((U for _ in TRUE), TRUE, [U, N], positive=U)  # any iterable of labels
    assert always["recall"] == 1 and always["precision"] == pytest.approx(5 / 12) and always["said urgent"] == 12
