"""The spaCy pipeline components, registered under versioned names.

Each component's ``__call__`` finds things (pure functions in the sibling
modules) and then sets annotations on the Doc (``extensions.py``). Components
that need loaded resources (the embedder, the rubric index) receive them from
``Reader`` through ``setup`` before the first document.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable, Iterator

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from notereader.pipeline import extensions  # noqa: F401  (declares the Doc extensions)
from notereader.pipeline.context import ContextRules, find_cues
from notereader.pipeline.embedder import Embedder
from notereader.pipeline.goals import DirectionModel, GoalCues, match_goals
from notereader.pipeline.matcher import RubricIndex
from notereader.pipeline.medications import MedicationLexicon
from notereader.pipeline.roles import RoleLexicon, introduced_roles, scoring_texts
from notereader.pipeline.segment import segment
from notereader.pipeline.speech import note_pronoun_is_she, quote_spans, reported

# spaCy forbids "." in factory names, so "notereader.context.v1" is spelled
# "notereader_context_v1". A change of behaviour gets a new name (…_v2).
SEGMENTER = "notereader_segmenter_v1"
CONTEXT = "notereader_context_v1"
RUBRIC_MATCHER = "notereader_rubric_matcher_v1"
GOALS = "notereader_goals_v1"


def _token_range(doc: Doc, start: int, end: int) -> tuple[int, int]:
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or len(span) == 0:  # only whitespace tokens: fall back to a scan
        toks = [t.i for t in doc if t.idx < end and t.idx + len(t.text) > start]
        return (toks[0], toks[-1] + 1) if toks else (0, 0)
    return span.start, span.end


class Segmenter:
    """Paragraphs, section headers, sentences and clauses (``segment.py``), and each clause's scoring text
    (partner roles beside names, ``roles.py``; medicines' kinds beside their names, ``medications.py``)
    and, for quoted first-person words, its reported readings (``speech.py``)."""

    def __init__(self) -> None:
        self.roles = RoleLexicon.load()
        self.medications = MedicationLexicon.load()

    def __call__(self, doc: Doc) -> Doc:
        text = doc.text
        seg = segment(text)
        doc._.text = text
        doc._.segmentation = seg
        doc._.clause_texts = [text[c.start:c.end] for c in seg.clauses]
        roles = introduced_roles(text, self.roles)
        doc._.scoring_texts = [self.medications.annotate(t) for t in
                               scoring_texts(doc._.clause_texts, roles, self.roles)]
        # quoted first-person words, read as a report of them (speech.py): a clause cites a raised risk
        # when either reading is near it, as for a clause just under the threshold
        spans, she = quote_spans(text), note_pronoun_is_she(text)
        doc._.reported_texts = [
            tuple(self.medications.annotate(r) for r in
                  scoring_texts(list(readings), roles, self.roles, context=doc._.clause_texts)) if readings else None
            for readings in (reported(t, c.start, spans, she) for t, c in zip(doc._.clause_texts, seg.clauses))]
        sent_tok = [_token_range(doc, s.start, s.end) for s in seg.sentences]
        doc._.clause_tokens = [(*_token_range(doc, c.start, c.end), *sent_tok[c.sentence]) for c in seg.clauses]
        starts = {a for a, b in sent_tok if b > a}
        for tok in doc:
            tok.is_sent_start = tok.i == 0 or tok.i in starts
        return doc


class Context:
    """Finds the assertion-context cues of a Doc (``context.py``)."""

    def __init__(self, nlp: Language) -> None:
        self.rules = ContextRules(nlp)

    def __call__(self, doc: Doc) -> Doc:
        doc._.context = find_cues(doc, self.rules)
        return doc


class RubricMatcher:
    """Embeds each distinct clause and goal text once per batch, then matches rubrics."""

    def __init__(self) -> None:
        self.index: RubricIndex | None = None
        self.embedder: Embedder | None = None
        # every encode of this component goes through one thread: batches in order, and the embedder's
        # sentence cache is never touched by two callers at once (pages may analyse from several threads)
        self._dispatch = ThreadPoolExecutor(1, thread_name_prefix="encode-batches")

    def setup(self, index: RubricIndex, embedder: Embedder) -> None:
        self.index, self.embedder = index, embedder

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc], batch_size=1)))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 32) -> Iterator[Doc]:
        """Match each batch once its texts are embedded; the next batch is embedded meanwhile.

        While the encoder works on batch k+1 (on its own threads), this thread matches batch k and the
        components before this one prepare batch k+2: on 2 cores the encoder's threads no longer wait for
        the single-threaded steps. A sentence's vector depends only on the sentence, so results are the
        same as one batch after the other.
        """
        if self.index is None or self.embedder is None:
            raise RuntimeError(f"{RUBRIC_MATCHER} was not set up; build the pipeline with notereader.Reader")
        embedder = self.embedder
        pending: deque[tuple[list[Doc], Future[dict[str, np.ndarray]]]] = deque()
        for batch in minibatch(docs, size=batch_size):
            texts: set[str] = set()
            for doc in batch:
                texts.update(doc._.scoring_texts)
                texts.update(x for t in doc._.reported_texts or () if t is not None for x in t)
                texts.update(t for _gid, t in (doc._.plan_goals or ()) if t.strip())
            pending.append((batch, self._dispatch.submit(embedder.encode, texts)))
            if len(pending) > 1:
                yield from self._match(*self._ready(pending.popleft()))
        while pending:
            yield from self._match(*self._ready(pending.popleft()))

    @staticmethod
    def _ready(item: tuple[list[Doc], Future[dict[str, np.ndarray]]]) -> tuple[list[Doc], dict[str, np.ndarray]]:
        batch, vectors = item
        return batch, vectors.result()

    def _match(self, batch: list[Doc], vectors: dict[str, np.ndarray]) -> Iterator[Doc]:
        assert self.index is not None  # nosec B101 # checked in pipe()
        for doc in batch:
            doc._.clause_vectors = vectors
            clauses = doc._.segmentation.clauses
            doc._.clause_matrix = (np.array([vectors[t] for t in doc._.scoring_texts], dtype=np.float64)
                                   if clauses else np.zeros((0, 0)))
            doc._.rubric_hits = self.index.match_doc(doc)
            if doc._.plan_goals:
                texts_here = sorted(set(doc._.scoring_texts)
                                    | {t for _gid, t in doc._.plan_goals if t.strip()})
                doc._.theme_profiles = self.index.theme_profiles(
                    np.array([vectors[t] for t in texts_here], dtype=np.float64), texts_here)
            yield doc


class Goals:
    """Plan goals against clauses, with progress and setback cues (``goals.py``)."""

    def __init__(self, nlp: Language) -> None:
        self.cues = GoalCues(nlp)
        self.model: DirectionModel | None = None

    def setup(self, model: DirectionModel) -> None:
        self.model = model

    def __call__(self, doc: Doc) -> Doc:
        if self.model is None:
            raise RuntimeError(f"{GOALS} was not set up; build the pipeline with notereader.Reader")
        doc._.goal_hits = match_goals(doc, self.cues, doc._.clause_vectors or {}, self.model)
        return doc


@Language.factory(SEGMENTER)
def make_segmenter(nlp: Language, name: str) -> Segmenter:
    return Segmenter()


@Language.factory(CONTEXT)
def make_context(nlp: Language, name: str) -> Context:
    return Context(nlp)


@Language.factory(RUBRIC_MATCHER)
def make_rubric_matcher(nlp: Language, name: str) -> RubricMatcher:
    return RubricMatcher()


@Language.factory(GOALS)
def make_goals(nlp: Language, name: str) -> Goals:
    return Goals(nlp)
