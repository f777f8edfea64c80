"""A partner introduced by role once ("her boyfriend Shane") is read beside the bare name later."""

from __future__ import annotations

import pytest

from notereader.pipeline.roles import RoleLexicon, introduced_roles, scoring_texts


@pytest.fixture(scope="module")
def lex() -> RoleLexicon:
    return RoleLexicon.load()


@pytest.mark.parametrize("text, expected", [
    ("Met with cl. Her boyfriend Dario was at work.", {"Dario": ("her", "boyfriend")}),
    ("Bf Dario not home during HV.", {"Dario": (None, "boyfriend")}),
    ("Dario (bf) answered the door.", {"Dario": (None, "boyfriend")}),
    ("Cl and his wife, Noreen, came in together.", {"Noreen": ("his", "wife")}),
    ("She said her ex Tomas keeps texting.", {"Tomas": ("her", "ex-partner")}),
    ("Her husband Mr. Abbott signed the form.", {"Abbott": ("her", "husband")}),
    # a day or a title after a role word is not a name
    ("She will ask her husband Tuesday.", {}),
    # a list, not an apposition: "bf, Dario sold..." names nobody's role
    ("No firearms per bf, Dario sold the rifle last year.", {}),
    # one name, two roles: the note is ambiguous, so neither is used
    ("Her boyfriend Sol drove. Sol (husband) waited.", {}),
])
def test_a_role_is_found_where_the_note_introduces_it(lex, text, expected):
    assert introduced_roles(text, lex) == expected


def test_later_clauses_read_the_name_with_its_role(lex):
    text = "Bf Dario not home. Sunday Dario 'shoved me into the door' and she hit her head. Dario, her bf, left."
    clauses = ["Bf Dario not home.", "Sunday Dario 'shoved me into the door' and she hit her head.", "Dario, her bf, left."]
    got = scoring_texts(clauses, introduced_roles(text, lex), lex)
    assert got == ["Bf Dario not home.",  # the introducing clause is left as written
                   "Sunday her boyfriend Dario 'shoved me into the door' and she hit her head.",
                   "Dario, her bf, left."]
    assert scoring_texts(["Nobody named here."], {}, lex) == ["Nobody named here."]


def test_the_possessive_follows_the_clause_then_the_note(lex):
    roles = {"Dario": (None, "boyfriend")}
    assert scoring_texts(["Dario took his keys back."], roles, lex) == ["his boyfriend Dario took his keys back."]
    # no pronoun in the clause: the note's (here, these clauses') most frequent one
    assert scoring_texts(["Dario left.", "She says she is fine."], roles, lex)[0] == "her boyfriend Dario left."


def test_a_named_partners_assault_is_raised_and_quoted_in_the_notes_own_words(reader):
    text = ("HV with cl and kids. Bf Dario not home.\n"
            "Cl states Saturday night Dario 'pinned me against the fridge by my neck' during a fight about rent, "
            "she could not breathe for a moment.\nSafety plan made; DV advocate to call cl at 2 pm.")
    a = reader.analyze_text(text)
    dv = [r for r in a["risks"] if r["rubric_id"] == "domestic_violence"]
    assert dv, a["risks"]
    for c in dv[0]["citations"]:
        assert text[c["start"]:c["end"]] == c["quote"]
    assert any("Dario 'pinned me" in c["quote"] and "boyfriend Dario" not in c["quote"] for c in dv[0]["citations"])


def test_editing_the_roles_file_changes_provenance(reader, tmp_path, monkeypatch):
    import notereader.pipeline.roles as roles
    from notereader.reader import Reader

    edited = tmp_path / "roles.yaml"
    edited.write_text(roles.ROLES_PATH.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    monkeypatch.setattr(roles, "ROLES_PATH", edited)
    other = Reader(reader.ruleset, embedder=reader.embedder)
    assert other.provenance["engine_data_sha256"] != reader.provenance["engine_data_sha256"]
