"""Compile a rubric set into the matrices the matcher needs, with a cache.

Compiling embeds every rubric statement and example plus the background
sentences and the goal-direction examples, and fits the per-rubric
classifiers and the goal-direction model: about a minute on a 2-core
machine. The result depends only on the model files, the rubric contents, the
engine's code and data files and the engine version, so it is cached on disk
under a key made of their hashes (``$NOTEREADER_CACHE_DIR``, default
``~/.cache/notereader``). A changed rubric, cue file or line of the pipeline's
code changes the key, so a stale cache is never used: the engine version alone
did not suffice, since code edited between two version bumps (or tried and
reverted) trained the classifiers on other data under the same key. Delete the
directory at any time to force a rebuild.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import scipy
import sklearn
from spacy.language import Language

from notereader.pipeline.classifier import TRAINING_RECIPE, RubricClassifiers, load_background, training_sets
from notereader.pipeline.context import ContextRules
from notereader.pipeline.embedder import Embedder
from notereader.pipeline.goals import DirectionModel, load_direction_examples
from notereader.pipeline.matcher import RubricIndex, suppressed_by_context
from notereader.rubrics.schema import RubricSet
from notereader.version import ENGINE_VERSION


def cache_dir() -> Path:
    env = os.environ.get("NOTEREADER_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "notereader"


PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def code_sha256(root: Path = PACKAGE_ROOT) -> str:
    """SHA-256 of the code and data compiling runs: every file of ``notereader/pipeline`` and ``notereader/rubrics``.

    Which training examples the context stage suppresses, how texts are segmented and how the classifiers are
    fitted all live there; any edit, committed or not, gives another key.
    """
    h = hashlib.sha256()
    for package in ("pipeline", "rubrics"):
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".yaml", ".yml", ".json", ".txt"):
                h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def compile_rubrics(nlp: Language, rules: ContextRules, ruleset: RubricSet, embedder: Embedder,
                    use_cache: bool = True) -> tuple[RubricIndex, DirectionModel, str]:
    """Return the matcher index, the goal-direction model and the SHA-256 of their training data."""
    background, bg_sha = load_background()
    examples, ex_sha = load_direction_examples()
    data_sha = hashlib.sha256(f"{bg_sha} {ex_sha}".encode()).hexdigest()
    key = hashlib.sha256(" ".join([
        ENGINE_VERSION, TRAINING_RECIPE, embedder.manifest.sha256, ruleset.sha256, rules.sha256, data_sha, sklearn.__version__,
        np.__version__, scipy.__version__, code_sha256(),
    ]).encode()).hexdigest()
    path = cache_dir() / f"index-{key[:32]}.npz"
    ids = [r.id for r in ruleset.rubrics]
    statements = [s for r in ruleset.rubrics for s in r.look_for]
    if use_cache and path.is_file():
        try:
            data = np.load(path, allow_pickle=False)
            W, b, lf = data["W"], data["b"], data["lf"]
            if W.shape[0] == len(ids) and lf.shape[0] == len(statements):
                vectors = dict(zip(statements, lf))
                classifiers = RubricClassifiers.from_arrays(ids, W, b, [str(t) for t in data["vocab"]], data["idf"])
                index = RubricIndex(nlp, rules, ruleset, vectors, classifiers)
                return index, DirectionModel(data["dW"], data["db"]), data_sha
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: rebuild below
    sets = training_sets(ruleset, background, lambda r, ex: suppressed_by_context(nlp, rules, r, ex))
    texts = set(statements)
    for group in examples.values():
        texts.update(group)
    for ts in sets.values():
        texts.update(ts.positives)
        texts.update(ts.negatives)
    vectors = embedder.encode(texts)
    classifiers = RubricClassifiers(ids, sets, vectors)
    index = RubricIndex(nlp, rules, ruleset, vectors, classifiers)
    direction = DirectionModel.fit(examples, vectors)
    if use_cache:
        _save(path, W=classifiers.W, b=classifiers.b, lf=np.array([vectors[s] for s in statements]),
              dW=direction.W, db=direction.b, vocab=np.array(classifiers.lexicon.vocabulary, dtype=str),
              idf=classifiers.lexicon.idf)
    return index, direction, data_sha


def _save(path: Path, **arrays: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home is fine: we simply compile again next time
