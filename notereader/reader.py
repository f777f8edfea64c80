"""The Reader: the whole pipeline, loaded once, applied to many notes.

    reader = Reader()                     # verifies model hashes, loads rubrics
    for analysis in reader.analyze_many(notes, batch_size=32):
        ...

Loading (model verification, rubric embedding) happens once in the
constructor; ``analyze_many`` never reloads anything. The result for a note
does not depend on the batch size, the thread count or the order of notes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Iterator

import spacy

from notereader.analysis import build_analysis
from notereader.notes import Note
from notereader.paths import models_dir, rubrics_dir
from notereader.pipeline.components import CONTEXT, GOALS, RUBRIC_MATCHER, SEGMENTER
from notereader.pipeline.embedder import Embedder, load_embedder, model_name
from notereader.pipeline.compiled import compile_rubrics
from notereader.rubrics.schema import RubricSet, load_rubrics
from notereader.version import ENGINE_VERSION


_BLAS_LIMIT: Any = None


def limit_blas_threads() -> None:
    """Run numpy's BLAS on one thread in this process (once; idempotent).

    The pipeline's matrix products are small (a note's clauses against the
    rubric statements), and the cores are already busy with the encoder's
    threads. OpenBLAS's own worker threads spin while they wait, and with the
    encoder beside them they took 22% of a typical note's time for products
    that need under 3% on one thread (pyinstrument, 200 typical notes).
    Results are unchanged: OpenBLAS splits a product between threads by
    blocks of the output, never along the summed dimension (checked byte for
    byte on the dev corpus's analyses).
    """
    global _BLAS_LIMIT
    if _BLAS_LIMIT is None:
        from threadpoolctl import threadpool_limits

        _BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")


class Reader:
    def __init__(
        self,
        rubrics: str | Path | RubricSet | None = None,
        models: str | Path | None = None,
        *,
        num_threads: int | None = None,
        embedder: Embedder | None = None,
        model: str | None = None,
    ) -> None:
        limit_blas_threads()
        self.ruleset = rubrics if isinstance(rubrics, RubricSet) else load_rubrics(rubrics_dir(rubrics))
        self.embedder = embedder or load_embedder(model_name(model), models_dir(models), num_threads=num_threads)
        self.nlp = spacy.blank("en")
        segmenter = self.nlp.add_pipe(SEGMENTER)
        context = self.nlp.add_pipe(CONTEXT)
        matcher = self.nlp.add_pipe(RUBRIC_MATCHER)
        goals = self.nlp.add_pipe(GOALS)
        self.index, direction, training_sha = compile_rubrics(self.nlp, context.rules, self.ruleset, self.embedder)
        matcher.setup(self.index, self.embedder)
        goals.setup(direction)
        data_sha = hashlib.sha256(
            f"{context.rules.sha256} {goals.cues.sha256} {training_sha} {segmenter.roles.sha256} "
            f"{segmenter.medications.sha256}".encode()).hexdigest()
        self.provenance: dict[str, Any] = {
            "engine_version": ENGINE_VERSION,
            "engine_data_sha256": data_sha,
            "models": {self.embedder.manifest.name: self.embedder.manifest.sha256},
            "ruleset": self.ruleset.provenance(),
        }

    def with_rubrics(self, ruleset: RubricSet) -> "Reader":
        """A Reader for other rubrics that shares this one's loaded model."""
        return Reader(ruleset, embedder=self.embedder)

    def _docs(self, notes: Iterable[Note]) -> Iterator[Any]:
        for note in notes:
            doc = self.nlp.make_doc(note.text)
            doc._.note_id = note.note_id
            doc._.plan_goals = note.goals
            yield doc

    def process(self, notes: Iterable[Note], batch_size: int = 32) -> Iterator[Any]:
        """The notes as processed spaCy Docs, with every stage's results on ``doc._`` (for evaluation tools)."""
        return self.nlp.pipe(self._docs(notes), batch_size=batch_size)

    def analyze_many(self, notes: Iterable[Note], batch_size: int = 32) -> Iterator[dict[str, Any]]:
        for doc in self.process(notes, batch_size=batch_size):
            yield build_analysis(doc, self.ruleset, self.provenance)

    def analyze(self, note: Note) -> dict[str, Any]:
        return next(self.analyze_many([note], batch_size=1))

    def analyze_text(self, text: str, note_id: str = "note", goals: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
        return self.analyze(Note(note_id, text, goals))
