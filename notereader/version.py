"""The engine version recorded in every Analysis.

Bump ENGINE_VERSION whenever a code change can alter any result for the same
note, rubrics and model files (segmentation, context logic, scoring, rounding,
output shape). Changes to the cue data files under ``pipeline/data`` are
tracked separately by their hash in ``provenance.engine_data_sha256``.

1.0.0  first skeleton (nearest-statement cosine matching).
1.1.0  per-rubric classifiers over sentence vector + TF-IDF, goal-direction
       model, weak cues, severity thresholds, implied themes.
1.2.0  reader-quality: another person as a clause's subject, shorter scopes
       for question and "prior" cues, citations and goal direction reworked.
1.3.0  default model all-MiniLM-L6-v2-onnx-fp32 (same weights, ONNX, float32,
       one sentence per run); text of clauses cached once per note; the same
       evaluation figures on the dev corpus as 1.2.0.
1.4.0  goal direction and citations (issue 2, branch goal-direction): the
       goal-cue negation window read from the Doc (it was sliced from the
       clause with Doc offsets), a negator counted once, planned-step cues
       and negated cues acted on; goals found by life area as well as
       wording; short title clauses ranked down; a raised risk also cites
       clauses just under its threshold that no context cue stops. Goal
       direction and citations change for the same note.
1.5.0  default model all-MiniLM-L6-v2-onnx-int8-static: int8 weights and
       activations with scales fixed from pinned calibration sentences,
       feed-forward output projections in float32; same-length sentences
       share a run as in float32. Every vector moves slightly (mean cosine
       0.993 to float32 on the bench corpus's sentences), so scores change for the same note; the dev-corpus
       figures are those of float32 within 0.004.
       Decoys (issue 2, branch decoys): "contrast" cues read back over the
       clause before a "but" ("unreachable Monday, but he returned the call
       Tuesday"); a past year after a possessive or article ("her 2016
       conviction") is historical; a time word inside a strong negation
       ("did not miss any visits this week despite ...") no longer ends its
       scope; a negation's reach over a clause counts content words only.
       Findings change for the same note.
1.6.0  the static int8 model is built from pinned activation ranges
       (models/calibration/*.ranges.json) instead of calibrating on the
       build machine: calibration gave other bytes on an AVX-512 CPU than on
       the AVX2 CPU the 1.5.0 hash was pinned on, so the default model could
       not be built here. The ranges were measured on an AVX-512 machine, so
       the model file (pinned hash) and its vectors differ slightly from
       1.5.0's.
       Citations: a rubric raised by literal phrases alone ("a report to
       the DCFS hotline") also cites the clause nearest it in meaning, when
       no context cue stops it (matcher.PHRASE_SUPPORT_FLOOR).
       Goal direction (issue 2, branch goals): overlapping goal cues read as
       the longest ("dropped off" is not "dropped"); an explicit progress or
       setback cue helps choose the cited clause (CUE_BONUS) and wins over
       the classifier from CUE_SUPPORT 0.1; five candidate clauses instead
       of three; short title lines, background clauses ("had been",
       "history of") and the note's opening contact line ("Home visit with
       ...") ranked down. Goal direction and goal citations change for the
       same note.
       Context (issue 2, branch risks): a cue inside a short relative aside
       (", who died in 2023,") scopes over the aside only; a past time just
       after "since" ("since last fall") starts something ongoing and is not
       historical; another person as the subject of a reported clause does
       not take over a second report joined by "and that" ("he said his ex's
       new boyfriend ... and that he's done"); "was <past year>" dates an
       event ("her last admission was 2021"). Findings change for the same note.
1.7.0  Citations: a clause kept as supporting evidence is no longer refused
       for naming another person ("his uncle left him with bruises"): the
       other-person rule decides whether the clause is about that person,
       as it does for a clause that raises a rubric; cues of every other
       category still refuse it anywhere in the clause. The clause nearest
       in meaning is cited beside any phrase whose own clause does not read
       as the rubric (a hotline report), also when another clause raised the
       rubric by meaning; a phrase in a clause that reads as the rubric brings
       no such guess. "the remote", "TV
       remote" and "remote control" are not a remote history. Citations
       change for the same note.
       Context: an instruction that opens a sentence or list item ("Call for
       any chest pain", "Call the crisis line for any thoughts of ...") makes
       what it lists hypothetical (rule key opens_sentence); a rule with an
       unknown key is refused by name. A history measured in hours, days or
       a week or two ("a two-day history of vomiting") is recent, not
       historical (ConText's two weeks); "presents", "presented", "came in"
       and "coming in" end a scope (a new event after the background); each
       numbered item "1) ... 2) ..." is a finding of its own.
       Context, from the errors of the tuning notes (eval/tuning_notes.jsonl):
       an observed absence ("saw no", "found no", "no marks", "no bruising",
       "no signs that") is a strong negation; "could"/"might" reach 8 tokens
       and "could not" is a weak negation, not a possibility ("she couldn't
       breathe"); "could not say/remember/recall/explain" asserts nothing; a
       month of a past year ("in October 2024") is historical; "years ago"
       and the like reach 8 tokens back; "a guy", "some guy", "another man"
       are another person; a screen showing only the prescribed medication
       ("buprenorphine only, as expected") is negative. Citations: when the
       clause nearest in meaning to a phrase-raised rubric is stopped by a
       context cue, the next nearest is taken. Classifiers change with the
       cues (negated no_flag examples leave their negatives).
       A record field ("Caregiver: ...", "Topic today: ...", labels in
       matcher.RECORD_FIELDS) raises no rubric on meaning; its literal
       phrases still count.
1.8.0  default model rebuilt with its int8 weights stored as uint8 offset
       by 128 (the same real values; model.onnx f03b929b... instead of
       ad57d632...). onnxruntime multiplies uint8 activations by int8
       weights with VPMADDUBSW on a CPU without VNNI, which saturates a
       16-bit sum of two products, so an AVX2 machine computed other vectors
       than an AVX-512 VNNI one: dev risk F1 0.891 against 0.908 for the
       same notes, rubrics and model file. uint8 x uint8 products are exact
       on every CPU; the AVX2 machine now gives the AVX-512 machine's
       figures on dev, the held-out, tuning and sample notes. Results change
       on CPUs without VNNI; on VNNI CPUs only the model hash changes.
1.9.0  a partner the note introduces by role ("her boyfriend Shane",
       "Shane (bf)", "Bf Shane") is read with the role beside the bare name
       in later clauses ("Shane 'grabbed me by the throat'" is scored as "her
       boyfriend Shane 'grabbed me by the throat'"): clause vectors, rubric
       classifiers, theme profiles and goal matching read these scoring
       texts (roles.py, data/roles.yaml); quotes, citations, phrases and
       context cues keep the note's own words.
1.10.0 a clause matched by meaning is denied when the cue reaches the words
       after its reporting frame: "Client says no thoughts of suicide" was
       raised as self_harm because "Client says" counted as undenied words.
       Context: case work's "remote" (remote into, remote hearing, remote
       session) is not a remote history.
1.11.0 context: a time word right after a screening instrument dates the
       screen and no longer parts it from its result ("PHQ-9 today totals 4,
       with 0 on the self-harm question" is a negative screen); a two-way cue
       before a colon reaches back as well as over what follows ("Allegation
       of financial exploitation by neighbor unsubstantiated: ...").
1.12.0 context: a woman named as another person is the "her" that follows
       her ("her sister lost her apartment" is about the sister), unless
       what follows is the client's own means or belongings ("her daughter
       cashes her check"); word lists female_persons and client_belongings
       in data/context_rules.yaml.
1.13.0 the compiled index (fitted classifiers) is cached under a key that
       covers the code and data of notereader/pipeline and notereader/rubrics
       and the numpy and scipy versions, not only the engine version: an
       index fitted by code edited under an unchanged version was reused.
       The results recorded for 1.12.0 on an AVX2 machine came from such an
       index and differ in the fourth decimal from those of a fresh 1.12.0
       build, which 1.13.0 gives unchanged.
1.14.0 goal clause choice: a clause nearer another goal of the same plan
       (meaning plus life area) is ranked down by a quarter of the gap
       (goals.OTHER_GOAL_WEIGHT), so a goal cites the clause that speaks to
       it rather than one it shares a topic with. Goal citations and
       directions change for notes whose plans have several goals.
1.15.0 context, other person: a clause that calls the client "he" before
       the other person ("He said his neighbor ...") does not bring the
       client back with a later "her" ("had her power shut off" is the
       neighbour's); a quotation opened after "and" ('and "it scared me"')
       is a new clause, so its "me" does not bring the client back into
       the other person's.
1.16.0 a medicine named by brand or generic name is read with its kind by
       the sentence models ("out of his Keppra (seizure medication)"), from
       data/medications.yaml (pipeline/medications.py); quotes, citations
       and context keep the note's words.
1.17.0 default model all-MiniLM-L6-v2-int8-exact: the same pinned int8
       weights and scales as int8-static, computed by
       pipeline/exact_int8.py (exact integer products, float64 elsewhere)
       instead of onnxruntime, whose float kernels differ between CPUs and
       gave other scores on AVX2 and AVX-512 machines. Vectors move slightly
       (cosine 0.999 to onnxruntime's on average), so scores and some
       findings change for the same note; onnxruntime's int8-static model
       stays available by name (--model), about 2.7x faster.
1.18.0 quoted first-person speech ('he swung his cane at me') is also read
       as a report of it, pronouns in the third person, with and without
       "Client said" before it (pipeline/speech.py); a risk raised in the
       note cites such a clause when the nearer reading comes within
       CITE_MARGIN of the threshold. Nothing is raised on those readings.
       Risk citations change for the same note.
"""

ENGINE_VERSION = "1.18.0"
ANALYSIS_SCHEMA = "notereader.analysis.v1"
SCORE_DECIMALS = 4
