"""`evaluate`: how well the offline classifier does on held-out labelled texts, next to a tuned TF-IDF +
logistic-regression baseline trained on the same texts in the same run (what `helpdesk ai eval` prints)."""

from __future__ import annotations

import time
from collections import Counter

from helpdesk.ai.labels import at_least
from helpdesk.ai.offline import (
    CHAR_PARAMS,
    MIN_PER_LABEL,
    WORD_PARAMS,
    clip_texts,
    feature_matrix,
    fit_tfidf,
    validation_splits,
    check_history,
    level_order,
    train,
)
from helpdesk.core.errors import InvalidInput

BASELINE = "tfidf+logistic-regression"
BASELINE_C = (1.0, 10.0, 100.0)  # tuned on the training texts by the same validation as the model


def interval(accuracy: float, n: int) -> list[float]:
    """The 95 % Wilson interval of an accuracy measured on n texts: how far a small test set can be
    trusted (80 texts: about +-9 points)."""
    if n <= 0:
        return [0.0, 1.0]
    z = 1.96
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _figures(truth: list[str], predicted: list[str]) -> dict:
    from sklearn.metrics import f1_score  # lazy: scikit-learn only where a model is evaluated

    labels = sorted(set(truth))
    by_label = Counter(truth)
    hits = Counter(t for t, p in zip(truth, predicted) if t == p)
    accuracy = sum(hits.values()) / len(truth) if truth else 0.0
    return {"accuracy": round(accuracy, 4), "accuracy_95": interval(accuracy, len(truth)),
            "macro_f1": round(float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4),
            "recall": {label: round(hits[label] / by_label[label], 4) for label in labels}}


def baseline(train_rows: list[tuple[str, str]], *, seed: int = 0):
    """A logistic regression on word and character TF-IDF (the model's own features without embeddings),
    its C chosen from `BASELINE_C` by validation on the training texts. Returns (predict, info)."""
    import numpy as np  # lazy: see _figures
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    texts = clip_texts([t for t, _ in train_rows])
    labels = sorted({label for _, label in train_rows})
    y = np.array([labels.index(label) for _, label in train_rows])
    parts = [fit_tfidf(texts, WORD_PARAMS, 2 if len(texts) >= 1000 else 1),
             fit_tfidf(texts, CHAR_PARAMS, 2 if len(texts) >= 200 else 1)]
    X = feature_matrix(parts, False, texts)

    def fit(C: float, rows):
        return LogisticRegression(C=C, max_iter=1000).fit(X[rows], y[rows])

    splits = validation_splits(y, seed)
    scores = {}
    for C in BASELINE_C:
        right = sum(int((fit(C, tr).predict(X[te]) == y[te]).sum()) for tr, te in splits)
        scores[C] = right / sum(len(te) for _, te in splits)
    best_c = max(BASELINE_C, key=lambda c: (scores[c], -c))
    model = fit(best_c, np.arange(len(y)))

    def predict(test_texts: list[str]) -> list[str]:
        return [labels[int(i)] for i in model.predict(feature_matrix(parts, False, clip_texts(test_texts)))]

    return predict, {"name": BASELINE, "C": best_c, "validation_accuracy": {str(c): round(s, 4) for c, s in scores.items()},
                     "train_seconds": round(time.perf_counter() - started, 2)}


def evaluate(train_rows: list[tuple[str, str]], test_rows: list[tuple[str, str]], *,
             min_per_label: int = MIN_PER_LABEL, minimum_level: str = "medium", seed: int = 0,
             with_baseline: bool = True) -> dict:
    """Train on `train_rows`, predict `test_rows` (both (text, label)), and report: accuracy, macro-F1 and
    per-label recall; per confidence level the share of test texts at that level and their accuracy;
    what is offered at `minimum_level` or above (coverage and accuracy); the feature set training chose;
    and the same accuracy, macro-F1 and recall for the baseline. Test texts whose label the training
    data lacks (or had too few of) count as wrong, and are listed."""
    if not test_rows:
        raise InvalidInput("no test texts to evaluate on")
    check_history(train_rows, min_per_label)
    started = time.perf_counter()
    model = train(train_rows, min_per_label=min_per_label, seed=seed)
    train_seconds = time.perf_counter() - started
    texts = [t for t, _ in test_rows]
    truth = [label for _, label in test_rows]
    started = time.perf_counter()
    predictions = model.predict(texts)
    predict_ms = (time.perf_counter() - started) * 1000 / len(texts)
    predicted = [p.label for p in predictions]

    report = {"train_texts": len(train_rows), "test_texts": len(test_rows),
              "labels": model.labels, "skipped_labels": model.info["skipped_labels"],
              "unknown_test_labels": dict(Counter(label for label in truth if label not in model.labels)),
              "feature_set": model.feature_set, "feature_set_accuracy": model.info["feature_set_accuracy"],
              "validation": model.info["validation"]}
    report.update(_figures(truth, predicted))
    levels = {}
    for level in level_order():
        at = [p.label == t for p, t in zip(predictions, truth) if p.level == level]
        levels[level] = {"count": len(at), "share": round(len(at) / len(truth), 4),
                         "accuracy": round(sum(at) / len(at), 4) if at else None}
    report["levels"] = levels
    offered = [p.label == t for p, t in zip(predictions, truth) if at_least(p.level, minimum_level)]
    report["offered"] = {"minimum_level": minimum_level, "coverage": round(len(offered) / len(truth), 4),
                         "accuracy": round(sum(offered) / len(offered), 4) if offered else None}
    report["level_cuts"] = {k: round(v, 4) for k, v in model.cuts.items()}
    report["train_seconds"] = round(train_seconds, 2)
    report["predict_ms_per_text"] = round(predict_ms, 3)
    if with_baseline:
        predict, info = baseline(train_rows, seed=seed)
        info.update(_figures(truth, predict(texts)))
        report["baseline"] = info
    return report
