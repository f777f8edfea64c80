"""Every custom ``Doc`` attribute notereader sets, declared in one place."""

from __future__ import annotations

from spacy.tokens import Doc

DOC_EXTENSIONS = (
    "note_id",         # str: the note's id as given
    "plan_goals",      # tuple[(goal_id, text)]: the client's plan goals
    "segmentation",    # segment.Segmentation: paragraphs, sentences, clauses (char spans)
    "text",            # str: the note text (Doc.text re-joins every token on each access)
    "clause_texts",    # list[str]: each clause's text, in clause order
    "scoring_texts",   # list[str]: each clause as the models read it (roles.py, medications.py)
    "reported_texts",  # list[tuple[str, ...] | None]: per clause, its quoted first-person words read as reported
                       # (speech.py), or None
    "clause_tokens",   # list[(tok_start, tok_end, sent_tok_start, sent_tok_end)] per clause
    "context",         # context.DocContext: cues and terminators
    "clause_vectors",  # dict[str, np.ndarray]: clause and goal text -> unit vector
    "clause_matrix",   # np.ndarray: one row per clause, in clause order
    "rubric_hits",     # list[matcher.UnitHit]: per clause and rubric, raised or suppressed
    "theme_profiles",  # dict[str, np.ndarray]: clause or goal text -> unit vector of theme scores
    "goal_hits",       # list[goals.GoalSignal]
)


def register() -> None:
    for name in DOC_EXTENSIONS:
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


register()
