"""The offline classifier for real, on labelled sets of our own (tests/data/ai): against a tuned TF-IDF +
logistic-regression baseline trained on the same texts in the same run, its calibrated levels, too little
history, and the stored form."""

from __future__ import annotations

import io
import json
from collections import Counter

import numpy as np
import pytest

from helpdesk.ai.evaluation import evaluate
from helpdesk.ai.labelled import read_labelled_csv
from helpdesk.ai.offline import MAGIC, FORMAT_VERSION, ModelFormatError, NotEnoughHistory, OfflineModel, train
from helpdesk.core.errors import InvalidInput
from conftest import ROOT

DATA = ROOT / "tests" / "data" / "ai"


@pytest.fixture(scope="module")
def it_rows():
    return read_labelled_csv(DATA / "it_tickets_train.csv"), read_labelled_csv(DATA / "it_tickets_test.csv")


@pytest.fixture(scope="module")
def it_report(it_rows):
    return evaluate(*it_rows)


@pytest.fixture(scope="module")
def it_model(it_rows):
    return train(it_rows[0])


def test_the_labelled_it_set_is_eight_balanced_groups(it_rows):
    train_rows, test_rows = it_rows
    assert len(Counter(label for _, label in train_rows)) == 8
    assert set(Counter(label for _, label in train_rows).values()) == {30}
    assert set(Counter(label for _, label in test_rows).values()) == {10}
    assert not {t for t, _ in train_rows} & {t for t, _ in test_rows}


def test_the_classifier_beats_the_baseline_trained_in_the_same_run(it_report):
    baseline = it_report["baseline"]
    assert baseline["name"] == "tfidf+logistic-regression" and baseline["C"] in (1.0, 10.0, 100.0)
    # far above chance (1/8) for both, and ours at least as good as the baseline on accuracy and macro-F1
    assert baseline["accuracy"] > 0.4
    assert it_report["accuracy"] >= baseline["accuracy"]
    assert it_report["macro_f1"] >= baseline["macro_f1"]
    assert set(it_report["recall"]) == set(baseline["recall"]) == set(it_report["labels"])


def test_the_report_says_what_was_chosen_and_how_sure_it_is_per_level(it_report):
    assert it_report["feature_set"] in it_report["feature_set_accuracy"]
    assert set(it_report["feature_set_accuracy"]) == {"tfidf", "tfidf+embeddings"}
    chosen = it_report["feature_set_accuracy"][it_report["feature_set"]]
    assert chosen == max(it_report["feature_set_accuracy"].values())
    levels = it_report["levels"]
    assert list(levels) == ["high", "medium", "low"]
    assert sum(level["count"] for level in levels.values()) == it_report["test_texts"] == 80
    assert abs(sum(level["share"] for level in levels.values()) - 1) < 1e-3
    # calibrated: the high level is right more often than the whole set, and offered text more than all
    assert levels["high"]["count"] >= 8
    assert levels["high"]["accuracy"] >= it_report["accuracy"]
    offered = it_report["offered"]
    assert offered["minimum_level"] == "medium"
    assert offered["coverage"] == round((levels["high"]["count"] + levels["medium"]["count"]) / 80, 4)
    assert offered["accuracy"] >= it_report["accuracy"] - 1e-9
    assert json.loads(json.dumps(it_report)) == it_report  # JSON as it stands (for ai eval --json)


def test_a_suggestion_is_offered_only_at_the_configured_level(it_model):
    texts = [t for t, _ in read_labelled_csv(DATA / "it_tickets_test.csv")]
    predictions = it_model.predict(texts)
    for text, prediction in zip(texts[:20], predictions[:20]):
        high = it_model.suggest(text, "high")
        assert (high is not None) == (prediction.level == "high")
        if high is not None:
            assert (high.value, high.source, high.level) == (prediction.label, "offline", "high")
    assert {p.level for p in predictions} >= {"high", "medium"}
    assert all(it_model.suggest(t, "low") is not None for t in texts[:5])


def test_the_feature_set_can_be_fixed_and_is_recorded(it_rows):
    model = train(it_rows[0], feature_sets=("tfidf",))
    assert model.feature_set == "tfidf" and model.info["feature_set"] == "tfidf"
    assert model.info["validation"] == "5-fold"
    with pytest.raises(InvalidInput, match="feature sets are tfidf, tfidf\\+embeddings, not bert"):
        train(it_rows[0], feature_sets=("bert",))


# ---------------------------------------------------------------- too little history


def test_too_little_history_says_so_and_trains_nothing():
    rows = [("printer jam", "printing")] * 12 + [("vpn down", "network")] * 4
    with pytest.raises(NotEnoughHistory) as raised:
        train(rows)
    message = str(raised.value)
    assert "at least 10 labelled texts for each of two labels" in message
    assert "printing: 12, network: 4" in message and "nothing is suggested" in message
    with pytest.raises(NotEnoughHistory):
        evaluate(rows, rows)


def test_a_rare_label_is_left_out_and_listed(it_rows):
    rows = list(it_rows[0]) + [("The coffee machine is leaking", "facilities")] * 3
    model = train(rows, feature_sets=("tfidf",))
    assert "facilities" not in model.labels and model.info["skipped_labels"] == {"facilities": 3}
    report = evaluate(rows, [("The coffee machine is leaking again", "facilities"),
                             ("My printer prints blank pages", "printing")], with_baseline=False)
    assert report["unknown_test_labels"] == {"facilities": 1} and report["skipped_labels"] == {"facilities": 3}
    assert report["recall"]["facilities"] == 0.0


# ---------------------------------------------------------------- stored form


def test_a_model_round_trips_through_bytes_with_the_same_predictions(it_model):
    texts = [t for t, _ in read_labelled_csv(DATA / "it_tickets_test.csv")]
    data = it_model.to_bytes()
    assert data.startswith(MAGIC + f"{FORMAT_VERSION}\n".encode())
    again = OfflineModel.from_bytes(data)
    assert again.labels == it_model.labels and again.feature_set == it_model.feature_set
    assert again.cuts == it_model.cuts and again.info == it_model.info
    assert [(p.label, p.level) for p in again.predict(texts)] == [(p.label, p.level) for p in it_model.predict(texts)]
    assert np.allclose([p.confidence for p in again.predict(texts)], [p.confidence for p in it_model.predict(texts)])


def test_other_bytes_are_refused_with_one_line(it_model):
    data = it_model.to_bytes()
    for bad, message in [(b"PK\x03\x04 something else", "not a trained offline classifier"),
                         (MAGIC + b"0\n" + data[len(MAGIC) + 2:], "stored in format '0', this helpdesk reads format 1"),
                         (data[:len(data) // 2], "is damaged")]:
        with pytest.raises(ModelFormatError, match=message):
            OfflineModel.from_bytes(bad)


def test_a_stored_model_never_unpickles(it_model):
    # an array of Python objects (what a pickle payload would ride in) is refused, not loaded
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array([{"evil": True}], dtype=object))
    with pytest.raises(ModelFormatError, match="damaged"):
        OfflineModel.from_bytes(MAGIC + f"{FORMAT_VERSION}\n".encode() + buffer.getvalue())


# ---------------------------------------------------------------- labelled CSV files


def test_labelled_csv_reading(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("Text,Label,extra\n\"Printer, 2nd floor, jams\",printing,x\n\n\ufeffVPN down,network,y\n",
                    encoding="utf-8")
    assert read_labelled_csv(good) == [("Printer, 2nd floor, jams", "printing"), ("\ufeffVPN down", "network")]
    banking = tmp_path / "banking.csv"
    banking.write_text("text,category\nWhere is my card?,card_arrival\n", encoding="utf-8")
    assert read_labelled_csv(banking) == [("Where is my card?", "card_arrival")]

    cases = {"header.csv": ("body,group\nx,y\n", "must name the columns text and label (found: body, group)"),
             "label.csv": ("text,label\nPrinter jam,printing\nVPN down,\n", "label.csv:3: the label is empty"),
             "empty.csv": ("text,label\n", "no labelled rows")}
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_labelled_csv(tmp_path / name)
    (tmp_path / "latin1.csv").write_bytes("text,label\nDrucker kaputt \xe4,hw\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_labelled_csv(tmp_path / "latin1.csv")
    with pytest.raises(InvalidInput, match="cannot read .*missing.csv: No such file"):
        read_labelled_csv(tmp_path / "missing.csv")


def test_the_accuracy_interval_is_wilsons_and_narrows_with_more_texts():
    from helpdesk.ai.evaluation import interval

    assert interval(0.5, 100) == [0.4038, 0.5962]  # Wilson's 95 % interval, as tables give it
    small, large = interval(0.8, 80), interval(0.8, 8000)
    assert small[0] < 0.8 < small[1] and large[0] < 0.8 < large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 5
    assert interval(1.0, 10)[1] == 1.0 and interval(0.0, 10)[0] == 0.0
