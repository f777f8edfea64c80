"""``notereader rubrics calibrate``: propose a threshold per rubric.

For each rubric, its classifier (same features and settings as the engine's)
is refitted in 5 folds over its own training
data (look_for and flag examples against not_like, look-alike no_flag
examples, other rubrics and background sentences), so every example gets a
score from a model that did not see it. The precision-recall curve of those
out-of-fold scores gives the proposed threshold: the highest F1, and for
critical risks the highest threshold that keeps recall at or above
CRITICAL_RECALL. Nothing is written unless ``--write`` is given; then the
threshold goes into the file and the version is bumped (run
``notereader rubrics lock`` afterwards).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import spacy

from notereader.pipeline.classifier import Lexicon, features, fit_model, load_background, training_sets
from notereader.pipeline.context import ContextRules
from notereader.pipeline.embedder import Embedder, load_embedder
from notereader.pipeline.matcher import default_threshold, suppressed_by_context
from notereader.rubrics.schema import Rubric, load_rubrics

CRITICAL_RECALL = 0.95
FOLDS = 5


def _propose(y: np.ndarray, scores: np.ndarray, critical: bool) -> tuple[float, float, float]:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, scores)
    best = (0.0, 0.5, 0.0, 0.0)  # f1, threshold, precision, recall
    for p, r, t in zip(precision[:-1], recall[:-1], thresholds):
        if critical and r < CRITICAL_RECALL:
            continue
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best[0] or (f1 == best[0] and t > best[1]):
            best = (f1, float(t), float(p), float(r))
    return round(min(max(best[1], 0.05), 0.95), 2), round(best[2], 3), round(best[3], 3)


def _write_threshold(rubric: Rubric, threshold: float) -> None:
    text = Path(rubric.path).read_text(encoding="utf-8")
    if re.search(r"(?m)^threshold:.*$", text):
        text = re.sub(r"(?m)^threshold:.*$", f"threshold: {threshold}", text, count=1)
    else:
        text = re.sub(r"(?m)^(description:.*)$", rf"threshold: {threshold}\n\1", text, count=1)
    text = re.sub(r"(?m)^version:\s*\d+\s*$", f"version: {rubric.version + 1}", text, count=1)
    Path(rubric.path).write_text(text, encoding="utf-8")


def calibrate(directory: Path, write: bool = False, embedder: Embedder | None = None) -> list[str]:
    from sklearn.model_selection import StratifiedKFold

    ruleset = load_rubrics(directory)
    nlp = spacy.blank("en")
    rules = ContextRules(nlp)
    background, _sha = load_background()
    sets = training_sets(ruleset, background, lambda r, ex: suppressed_by_context(nlp, rules, r, ex))
    texts = set()
    for ts in sets.values():
        texts.update(ts.positives + ts.negatives)
    vectors = (embedder or load_embedder()).encode(texts)
    lexicon = Lexicon.fit(sorted(texts))
    lines = [f"{'rubric':24s} {'current':>8s} {'proposed':>9s} {'precision':>10s} {'recall':>7s}"]
    for r in ruleset.rubrics:
        ts = sets[r.id]
        X = features(list(ts.positives + ts.negatives), vectors, lexicon)
        y = np.array([1] * len(ts.positives) + [0] * len(ts.negatives))
        oof = np.zeros(len(y))
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
        for train, test in folds.split(np.zeros(len(y)), y):
            oof[test] = fit_model(X[train], y[train]).predict_proba(X[test])[:, 1]
        proposed, p, rec = _propose(y, np.round(oof, 4), r.severity == "critical")
        current = r.threshold if r.threshold is not None else default_threshold(r)
        lines.append(f"{r.id:24s} {current:8.2f} {proposed:9.2f} {p:10.3f} {rec:7.3f}")
        if write and proposed != current:
            _write_threshold(r, proposed)
    lines.append("thresholds written; run `notereader rubrics lock`" if write else "nothing written (use --write to apply)")
    return lines
