"""The offline classifier: trained on a desk's own labelled texts, no server needed.

Features: word (1-2 gram) and character (2-5 gram, within words) TF-IDF, optionally with the text's
static word-embedding vector appended (`embeddings.embed_offline`). Which of the two feature sets a desk
gets is chosen per training set by cross-validation (k-fold on small sets, one stratified hold-out on
large ones): embeddings help on short intent-like texts and can hurt on longer, jargon-heavy tickets.
Model: a class-balanced linear SVM. Calibration: its scores become probabilities through a softmax
whose temperature is fitted on the out-of-fold scores, and the confidence levels are cut where the
out-of-fold accuracy reaches `LEVEL_TARGETS`, so "high" means what it says on this desk's data.

A trained model is plain arrays and JSON (`to_bytes` / `from_bytes`): no pickle, so nothing in it runs
code, and a format version that a later helpdesk checks before it uses one. Inference uses only public
scikit-learn parts (a CountVectorizer given the stored vocabulary), then our own TF-IDF weighting.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field

from helpdesk.ai.embeddings import embed_offline
from helpdesk.ai.labels import LEVELS, at_least
from helpdesk.ai.result import Suggestion
from helpdesk.core.errors import HelpdeskError, InvalidInput

FORMAT = "helpdesk-offline-classifier"
FORMAT_VERSION = 1
MAGIC = b"HELPDESK-AI-MODEL\n"

FEATURE_SETS = ("tfidf", "tfidf+embeddings")
MIN_PER_LABEL = 10  # fewer examples of a label than this and it is left out of training
HOLDOUT_FROM = 3000  # from this many texts on, one stratified 80/20 hold-out instead of k folds
FOLDS = 5
SVM_C = 0.5
EMBEDDING_WEIGHT = 1.0
MAX_CHARS = 4000  # the head of a long text is what says what it is about
# A level is reached where the out-of-fold accuracy of the predictions at least that confident is this.
LEVEL_TARGETS = {"high": 0.90, "medium": 0.70}
MIN_LEVEL_SUPPORT = 5  # out-of-fold predictions needed above a cut for it to count

WORD_PARAMS = {"analyzer": "word", "ngram_range": (1, 2), "lowercase": True, "strip_accents": "unicode"}
CHAR_PARAMS = {"analyzer": "char_wb", "ngram_range": (2, 5), "lowercase": True, "strip_accents": "unicode"}


class NotEnoughHistory(HelpdeskError):
    """Too few labelled texts to learn from: nothing is trained and nothing suggested."""


class ModelFormatError(HelpdeskError):
    """Bytes that are not a trained model of a format this helpdesk reads."""


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    level: str


@dataclass
class _TfidfPart:
    """One TF-IDF block: the analyzer's parameters, the vocabulary in column order and its idf."""

    params: dict
    terms: list[str]
    idf: object  # numpy float32 array
    _counter: object = field(default=None, repr=False)

    def transform(self, texts: list[str]):
        import numpy as np  # lazy: numpy/scipy/sklearn only where the classifier runs
        from sklearn.feature_extraction.text import CountVectorizer

        if self._counter is None:
            params = dict(self.params, ngram_range=tuple(self.params["ngram_range"]))
            self._counter = CountVectorizer(**params, vocabulary={t: i for i, t in enumerate(self.terms)},
                                            dtype=np.float32)
        counts = self._counter.transform(texts).tocsr()
        # Sublinear tf times idf, then each row to unit length, on the CSR arrays in place: building
        # diagonal matrices for it cost more than the rest of one ticket's classification.
        counts.data = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        _l2_rows(counts)
        return counts


def _l2_rows(matrix) -> None:
    """Scale each row of a CSR matrix to unit length, in place (empty rows stay empty)."""
    import numpy as np  # lazy: see _TfidfPart

    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    norms = np.sqrt(np.bincount(rows, weights=np.square(matrix.data, dtype=np.float64), minlength=matrix.shape[0]))
    norms[norms == 0] = 1.0
    matrix.data = (matrix.data / norms[rows]).astype(np.float32)


def fit_tfidf(texts: list[str], params: dict, min_df: int) -> _TfidfPart:
    import numpy as np  # lazy: see _TfidfPart
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(**params, min_df=min_df, sublinear_tf=True, dtype=np.float32)
    vectorizer.fit(texts)
    terms = [""] * len(vectorizer.vocabulary_)
    for term, index in vectorizer.vocabulary_.items():
        terms[index] = term
    return _TfidfPart(params=dict(params), terms=terms, idf=vectorizer.idf_.astype(np.float32))


def clip_texts(texts) -> list[str]:
    return [t[:MAX_CHARS] for t in texts]


def feature_matrix(parts: list[_TfidfPart], embeddings: bool, texts: list[str]):
    from scipy import sparse  # lazy: see _TfidfPart

    blocks = [part.transform(texts) for part in parts]
    if embeddings:
        blocks.append(sparse.csr_matrix(embed_offline(texts) * EMBEDDING_WEIGHT))
    return sparse.hstack(blocks, format="csr", dtype="float32")


def _scores(coef, intercept, X):
    """Decision scores, one column per class (a binary model's one column made two)."""
    import numpy as np  # lazy: see _TfidfPart

    raw = np.asarray(X @ coef.T) + intercept
    if raw.shape[1] == 1:
        raw = np.hstack([-raw, raw]) / 2.0
    return raw


def _softmax(scores, temperature: float):
    import numpy as np  # lazy: see _TfidfPart

    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(scores, truth) -> float:
    """The softmax temperature that minimises the log-loss of out-of-fold scores (a coarse grid, then a
    finer one around the best)."""
    import numpy as np  # lazy: see _TfidfPart

    rows = np.arange(len(truth))

    def loss(t: float) -> float:
        return float(-np.log(np.clip(_softmax(scores, t)[rows, truth], 1e-12, None)).mean())

    grid = np.logspace(-1, 2.5, 36)
    best = min(grid, key=loss)
    fine = np.linspace(best / 1.3, best * 1.3, 21)
    return float(min(fine, key=loss))


def _level_cuts(confidence, correct) -> dict[str, float]:
    """For each level, the lowest confidence from which the out-of-fold predictions reach its target
    accuracy (1.01: never reached on this data)."""
    import numpy as np  # lazy: see _TfidfPart

    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], correct[order].astype(float)
    running = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    cuts = {}
    for level, target in LEVEL_TARGETS.items():
        ok = np.nonzero((running >= target) & (np.arange(1, len(hits) + 1) >= MIN_LEVEL_SUPPORT))[0]
        cuts[level] = float(conf[ok[-1]]) if len(ok) else 1.01
    cuts["medium"] = min(cuts["medium"], cuts["high"])
    return cuts


def validation_splits(labels, seed: int):
    """k stratified folds for small sets, one stratified 80/20 hold-out for large ones."""
    import numpy as np  # lazy: see _TfidfPart
    from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

    dummy = np.zeros(len(labels))
    if len(labels) >= HOLDOUT_FROM:
        return list(StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed).split(dummy, labels))
    folds = max(2, min(FOLDS, min(Counter(labels.tolist()).values())))
    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(dummy, labels))


def _svm():
    from sklearn.svm import LinearSVC  # lazy: see _TfidfPart

    return LinearSVC(C=SVM_C, class_weight="balanced")


def _out_of_fold(X, y, splits, n_classes: int):
    """Out-of-fold decision scores (rows outside every validation part stay NaN)."""
    import numpy as np  # lazy: see _TfidfPart

    scores = np.full((len(y), n_classes), np.nan, dtype=np.float64)
    for train_index, test_index in splits:
        model = _svm().fit(X[train_index], y[train_index])
        classes = model.classes_
        part = _scores(model.coef_, model.intercept_, X[test_index])
        full = np.full((len(test_index), n_classes), -1e3)
        full[:, classes] = part
        scores[test_index] = full
    return scores


def check_history(rows, min_per_label: int = MIN_PER_LABEL) -> tuple[list[str], dict[str, int]]:
    """The labels with enough examples to learn, and the ones left out with their counts; refuses (with
    what is missing) when fewer than two labels have enough."""
    counts = Counter(label for _, label in rows)
    kept = sorted(label for label, n in counts.items() if n >= min_per_label)
    skipped = {label: n for label, n in sorted(counts.items()) if n < min_per_label}
    if len(kept) < 2:
        have = ", ".join(f"{label}: {n}" for label, n in counts.most_common(8)) or "none"
        raise NotEnoughHistory(
            f"too little history to train the offline classifier: it needs at least {min_per_label} "
            f"labelled texts for each of two labels or more (have {len(rows)} texts; {have}); "
            f"nothing is suggested until then")
    return kept, skipped


@dataclass
class OfflineModel:
    """A trained classifier: `predict` / `suggest`; `to_bytes` / `from_bytes` to store it."""

    labels: list[str]
    parts: list[_TfidfPart]
    embeddings: bool
    coef: object  # numpy (n_classes or 1, n_features) float32
    intercept: object  # numpy (n_classes or 1,) float32
    temperature: float
    cuts: dict[str, float]
    info: dict

    @property
    def feature_set(self) -> str:
        return "tfidf+embeddings" if self.embeddings else "tfidf"

    def predict(self, texts: list[str]) -> list[Prediction]:
        import numpy as np  # lazy: see _TfidfPart

        if not texts:
            return []
        X = feature_matrix(self.parts, self.embeddings, clip_texts(texts))
        probabilities = _softmax(_scores(self.coef, self.intercept, X), self.temperature)
        best = probabilities.argmax(axis=1)
        out = []
        for row, index in enumerate(best):
            confidence = float(probabilities[row, index])
            out.append(Prediction(self.labels[int(index)], confidence, self.level(confidence)))
        return out

    def level(self, confidence: float) -> str:
        if confidence >= self.cuts["high"]:
            return "high"
        return "medium" if confidence >= self.cuts["medium"] else "low"

    def suggest(self, text: str, minimum: str = "medium") -> Suggestion | None:
        """The label for `text` when its level reaches `minimum`, else None (nothing to offer)."""
        prediction = self.predict([text])[0]
        if not at_least(prediction.level, minimum):
            return None
        return Suggestion(prediction.label, prediction.confidence, prediction.level, "offline")

    # ------------------------------------------------------------------ storage

    def to_bytes(self) -> bytes:
        import numpy as np  # lazy: see _TfidfPart

        meta = {"format": FORMAT, "version": FORMAT_VERSION, "labels": self.labels, "embeddings": self.embeddings,
                "temperature": self.temperature, "cuts": self.cuts, "info": self.info,
                "parts": [{"params": {k: list(v) if isinstance(v, tuple) else v for k, v in p.params.items()}}
                          for p in self.parts]}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
                  "coef": np.asarray(self.coef, dtype="<f4"), "intercept": np.asarray(self.intercept, dtype="<f4")}
        for i, part in enumerate(self.parts):
            arrays[f"terms{i}"] = np.frombuffer("\n".join(part.terms).encode("utf-8"), dtype=np.uint8)
            arrays[f"idf{i}"] = np.asarray(part.idf, dtype="<f4")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return MAGIC + f"{FORMAT_VERSION}\n".encode() + buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "OfflineModel":
        import numpy as np  # lazy: see _TfidfPart

        if not data.startswith(MAGIC):
            raise ModelFormatError("not a trained offline classifier of helpdesk")
        header_end = data.index(b"\n", len(MAGIC)) if b"\n" in data[len(MAGIC):] else -1
        version = data[len(MAGIC):header_end]
        if header_end < 0 or version != str(FORMAT_VERSION).encode():
            raise ModelFormatError(
                f"the offline classifier was stored in format {version.decode('ascii', 'replace')[:10]!r}, "
                f"this helpdesk reads format {FORMAT_VERSION}: train it again (helpdesk ai train)")
        try:
            with np.load(io.BytesIO(data[header_end + 1:]), allow_pickle=False) as stored:
                meta = json.loads(stored["meta"].tobytes().decode("utf-8"))
                parts = [_TfidfPart(params=p["params"],
                                    terms=stored[f"terms{i}"].tobytes().decode("utf-8").split("\n"),
                                    idf=stored[f"idf{i}"].astype(np.float32))
                         for i, p in enumerate(meta["parts"])]
                coef, intercept = stored["coef"].astype(np.float32), stored["intercept"].astype(np.float32)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelFormatError(f"the stored offline classifier is damaged ({type(exc).__name__})") from None
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ModelFormatError("the stored offline classifier is not of this helpdesk's format")
        return cls(labels=meta["labels"], parts=parts, embeddings=meta["embeddings"], coef=coef,
                   intercept=intercept, temperature=meta["temperature"], cuts=meta["cuts"], info=meta["info"])


def train(rows: list[tuple[str, str]], *, min_per_label: int = MIN_PER_LABEL,
          feature_sets: tuple[str, ...] = FEATURE_SETS, seed: int = 0) -> OfflineModel:
    """Train on (text, label) rows. Labels with fewer than `min_per_label` examples are left out (listed in
    `info["skipped_labels"]`); fewer than two labels left raises NotEnoughHistory."""
    import numpy as np  # lazy: see _TfidfPart
    from scipy import sparse

    unknown = [f for f in feature_sets if f not in FEATURE_SETS]
    if unknown or not feature_sets:
        raise InvalidInput(f"feature sets are {', '.join(FEATURE_SETS)}, not {', '.join(unknown) or 'none'}")
    started = time.perf_counter()
    kept, skipped = check_history(rows, min_per_label)
    keep = set(kept)
    texts = clip_texts([text for text, label in rows if label in keep])
    y = np.array([kept.index(label) for _, label in rows if label in keep])

    # The vocabulary is learnt once from all training texts (what the folds see of each other is only
    # which n-grams exist, not their labels): the folds then cost one SVM fit each.
    min_df = 2 if len(texts) >= 1000 else 1
    parts = [fit_tfidf(texts, WORD_PARAMS, min_df), fit_tfidf(texts, CHAR_PARAMS, 2 if len(texts) >= 200 else 1)]
    tfidf = feature_matrix(parts, False, texts)
    matrices = {"tfidf": tfidf}
    if "tfidf+embeddings" in feature_sets:
        dense = sparse.csr_matrix(embed_offline(texts) * EMBEDDING_WEIGHT)
        matrices["tfidf+embeddings"] = sparse.hstack([tfidf, dense], format="csr", dtype="float32")

    splits = validation_splits(y, seed)
    validated = np.zeros(len(y), dtype=bool)
    for _, test_index in splits:
        validated[test_index] = True
    results = {}
    for name in feature_sets:
        oof = _out_of_fold(matrices[name], y, splits, len(kept))
        accuracy = float((oof[validated].argmax(axis=1) == y[validated]).mean())
        results[name] = (accuracy, oof)
    # The richer set must win by more than noise; ties go to plain TF-IDF (cheaper, no embedding model).
    chosen = max(feature_sets, key=lambda n: (results[n][0] - (0.002 if n != "tfidf" else 0.0), n == "tfidf"))
    oof = results[chosen][1][validated]
    truth = y[validated]
    temperature = _fit_temperature(oof, truth)
    probabilities = _softmax(oof, temperature)
    cuts = _level_cuts(probabilities.max(axis=1), probabilities.argmax(axis=1) == truth)

    final = _svm().fit(matrices[chosen], y)
    import sklearn  # lazy: loaded by now; its version goes into the model's record

    info = {"trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "texts": len(texts),
            "label_counts": {label: int((y == i).sum()) for i, label in enumerate(kept)},
            "skipped_labels": skipped, "min_per_label": min_per_label,
            "validation": "holdout-20%" if len(texts) >= HOLDOUT_FROM else f"{len(splits)}-fold",
            "feature_set_accuracy": {name: round(results[name][0], 4) for name in feature_sets},
            "feature_set": chosen, "seconds": round(time.perf_counter() - started, 2),
            "sklearn": sklearn.__version__}
    return OfflineModel(labels=kept, parts=parts, embeddings=chosen == "tfidf+embeddings",
                        coef=final.coef_.astype(np.float32), intercept=final.intercept_.astype(np.float32),
                        temperature=temperature, cuts=cuts, info=info)


def level_order() -> tuple[str, ...]:
    """Levels from the most confident down (how reports list them)."""
    return tuple(reversed(LEVELS))

