"""Per-rubric classifiers fitted on the rubric's own words.

Meaning matching by nearest statement alone reads poorly (a sentence that
shares a topic with a risk scores as high as one that asserts it). So each
rubric gets a logistic-regression classifier over sentence vectors:

- positives: its ``look_for`` statements and ``flag`` examples;
- negatives: its ``not_like`` statements, its ``no_flag`` examples that the
  context stage would not already suppress (look-alikes, not "denies SI"),
  the positives of every other rubric of the same kind, and, for risks, the
  routine case-note sentences in ``data/background_sentences.yaml``. (Theme
  statements are not risk negatives: several of them rightly mention risks.)

Fitting is deterministic (lbfgs on float64, fixed data order), takes about a
second for the starter library, and is redone whenever the rubrics change,
so the ruleset hash covers it. Scores are rounded before any threshold.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from notereader.paths import PIPELINE_DATA_DIR
from notereader.rubrics.schema import Rubric, RubricSet

BACKGROUND_PATH = PIPELINE_DATA_DIR / "background_sentences.yaml"
C_REGULARISATION = 4.0
# Bump when the training recipe changes: it is part of the compiled-index cache key.
TRAINING_RECIPE = "lr-C4-balanced-emb+tfidf-w2-v4"


def load_background(path: Path = BACKGROUND_PATH) -> tuple[tuple[str, ...], str]:
    if not path.is_file():
        return (), hashlib.sha256(b"").hexdigest()
    raw = path.read_bytes()
    data = yaml.safe_load(raw) or {}
    return tuple(str(s) for s in data.get("sentences", [])), hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class TrainingSet:
    positives: tuple[str, ...]
    negatives: tuple[str, ...]


def training_sets(ruleset: RubricSet, background: tuple[str, ...],
                  suppressed_by_context: Callable[[Rubric, str], bool]) -> dict[str, TrainingSet]:
    positives = {r.id: tuple(dict.fromkeys(r.look_for + r.examples_flag)) for r in ruleset.rubrics}
    out: dict[str, TrainingSet] = {}
    for r in ruleset.rubrics:
        negs: list[str] = list(r.not_like)
        negs += [ex for ex in r.examples_no_flag if not suppressed_by_context(r, ex)]
        for other in ruleset.rubrics:
            if other.id != r.id and other.kind == r.kind:
                negs += positives[other.id]
        if r.kind == "risk":
            negs += background
        pos_set = set(positives[r.id])
        out[r.id] = TrainingSet(positives[r.id], tuple(dict.fromkeys(n for n in negs if n not in pos_set)))
    return out


class Lexicon:
    """TF-IDF word and word-pair features over the rubric training texts.

    Sentence vectors capture meaning but blur decisive words ("shut-off",
    "evicted", "overdosed"); these features give the classifier the words
    too. The vocabulary is sorted, so fitting is deterministic.
    """

    def __init__(self, vocabulary: list[str], idf: np.ndarray) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vocabulary, self.idf = vocabulary, idf
        self._vec = TfidfVectorizer(vocabulary={t: i for i, t in enumerate(vocabulary)}, **LEX_OPTIONS)
        self._vec.idf_ = idf

    @classmethod
    def fit(cls, texts: list[str]) -> "Lexicon":
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(min_df=2, **LEX_OPTIONS).fit(sorted(set(texts)))
        vocab = sorted(vec.vocabulary_)
        idf = np.array([vec.idf_[vec.vocabulary_[t]] for t in vocab], dtype=np.float64)
        return cls(vocab, idf)

    def transform(self, texts: list[str]):
        return self._vec.transform(texts) * LEX_WEIGHT


LEX_OPTIONS = {"ngram_range": (1, 2), "sublinear_tf": True, "lowercase": True, "dtype": np.float64}
LEX_WEIGHT = 2.0


def features(texts: list[str], vectors: dict[str, np.ndarray], lexicon: Lexicon):
    """The classifier's input: [sentence vector, TF-IDF] per text, as a sparse matrix."""
    from scipy.sparse import csr_matrix, hstack

    emb = csr_matrix(np.array([vectors[t] for t in texts], dtype=np.float64))
    return hstack([emb, lexicon.transform(texts)]).tocsr()


def fit_model(X, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C_REGULARISATION, class_weight="balanced", max_iter=5000, solver="lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model


class RubricClassifiers:
    """One linear model per rubric over [sentence vector, TF-IDF], applied to all clauses at once."""

    def __init__(self, rubric_ids: list[str], sets: dict[str, TrainingSet], vectors: dict[str, np.ndarray]) -> None:
        self.rubric_ids = rubric_ids
        all_texts = [t for rid in rubric_ids for t in sets[rid].positives + sets[rid].negatives]
        self.lexicon = Lexicon.fit(all_texts)
        weights, biases = [], []
        for rid in rubric_ids:
            ts = sets[rid]
            texts = list(ts.positives + ts.negatives)
            X = features(texts, vectors, self.lexicon)
            y = np.array([1] * len(ts.positives) + [0] * len(ts.negatives))
            model = fit_model(X, y)
            weights.append(model.coef_[0].astype(np.float64))
            biases.append(float(model.intercept_[0]))
        self.W = np.array(weights).reshape(len(rubric_ids), -1)
        self.b = np.array(biases)

    @classmethod
    def from_arrays(cls, rubric_ids: list[str], W: np.ndarray, b: np.ndarray,
                    vocabulary: list[str], idf: np.ndarray) -> "RubricClassifiers":
        self = cls.__new__(cls)
        self.rubric_ids, self.W, self.b = rubric_ids, W, b
        self.lexicon = Lexicon(vocabulary, idf)
        return self

    def predict(self, X: np.ndarray, texts: list[str]) -> np.ndarray:
        """Probabilities, clauses x rubrics (unrounded)."""
        if X.shape[0] == 0:
            return np.zeros((0, len(self.rubric_ids)))
        dim = X.shape[1]
        z = X @ self.W[:, :dim].T + self.lexicon.transform(texts) @ self.W[:, dim:].T + self.b
        return 1.0 / (1.0 + np.exp(-np.asarray(z)))
