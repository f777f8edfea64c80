"""Who a named person is to the client: a role introduced once is read beside the name after.

Case notes name a person's role once ("her boyfriend Shane", "Cheryl (mother)",
"Bf Shane", "aide Rodney") and then use the bare name: "States Sunday night
Shane 'grabbed me by the throat'". A name tells the sentence model nothing, so
that clause read as little like domestic violence (0.11) as a clause about a
stranger; with the role beside the name ("her boyfriend Shane 'grabbed me by
the throat'") it reads 0.70.

So each clause gets a *scoring text*: the clause's own words, with the role
inserted before each introduced name it mentions ("her boyfriend Shane"). The
sentence vectors, the rubric classifiers, the theme profiles and the goal
matching read the scoring text; context cues, phrases, quotes and citations
read the note's own words, so offsets and quotes are untouched.

Roles and the words that are never names are data (``data/roles.yaml``). A
name introduced with two different roles is left alone (the note is
ambiguous). The possessive is the one the note used ("his wife Grace"); with
none ("Bf Shane"), "her" or "his" after the pronouns of the clause, else of
the note.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from notereader.paths import PIPELINE_DATA_DIR

ROLES_PATH = PIPELINE_DATA_DIR / "roles.yaml"
POSSESSIVES = ("her", "his", "their", "client's", "cl's", "pt's", "the")
TITLES = ("Mr", "Mrs", "Ms", "Miss", "Dr", "Officer")


@dataclass(frozen=True)
class RoleLexicon:
    roles: dict[str, str]  # the role word as written, lowercased -> the role as read
    not_names: frozenset[str]
    sha256: str
    introduce_before: re.Pattern[str]  # [possessive] ROLE [,(] [title] Name
    introduce_after: re.Pattern[str]   # Name [,(] [possessive] ROLE
    role_words: str  # regex alternation of every role word, as written and as read

    @classmethod
    def load(cls, path: Path | None = None) -> "RoleLexicon":
        raw = (path or ROLES_PATH).read_bytes()
        data = yaml.safe_load(raw) or {}
        roles = {str(k).lower(): str(v) for k, v in (data.get("roles") or {}).items()}
        not_names = frozenset(str(w) for w in data.get("not_names") or ())
        words = "|".join(re.escape(w) for w in sorted(roles, key=lambda w: (-len(w), w)))
        poss = "|".join(re.escape(p) for p in POSSESSIVES)
        titles = "|".join(TITLES)
        before = re.compile(rf"(?<![\w/-])(?:(?i:({poss}))\s+)?(?i:({words}))(?![\w/-])[ \t]*([,(]?)[ \t]*"
                            rf"(?:(?:{titles})\.?[ \t]+)?([A-Z][a-z]+)\b")
        after = re.compile(rf"\b([A-Z][a-z]+)[ \t]*[,(][ \t]*(?:(?i:({poss}))[ \t]+)?(?i:({words}))(?![\w/-])")
        role_words = "|".join(re.escape(w) for w in sorted({*roles, *roles.values()}, key=lambda w: (-len(w), w)))
        return cls(roles, not_names, hashlib.sha256(raw).hexdigest(), before, after, role_words)


def pronoun_possessive(text: str) -> str | None:
    """ "her" or "his" by the third-person pronouns of ``text``, or None when they tie."""
    she = len(re.findall(r"\b(?:she|her|hers)\b", text, re.I))
    he = len(re.findall(r"\b(?:he|him|his)\b", text, re.I))
    return "his" if he > she else "her" if she > he else None


def introduced_roles(text: str, lex: RoleLexicon) -> dict[str, tuple[str | None, str]]:
    """Each name the note introduces with a role -> (the possessive it was given, if any; the role as read)."""
    found: dict[str, set[tuple[str | None, str]]] = {}
    for m in lex.introduce_before.finditer(text):
        poss, word, sep, name = m.group(1), m.group(2), m.group(3), m.group(4)
        # "her mother, Cheryl" and "mother, Cheryl, said" introduce; "per mom, Shane sold his rifle" does not
        if sep == "," and not poss and text[m.end():m.end() + 1] not in (",", ")"):
            continue
        if name not in lex.not_names:
            found.setdefault(name, set()).add((poss.lower() if poss else None, lex.roles[word.lower()]))
    for m in lex.introduce_after.finditer(text):
        name, poss, word = m.group(1), m.group(2), m.group(3)
        if name not in lex.not_names:
            found.setdefault(name, set()).add((poss.lower() if poss else None, lex.roles[word.lower()]))
    out = {}
    for name, readings in found.items():
        if len({role for _p, role in readings}) == 1:  # one role per name; two roles: the note is ambiguous
            given = sorted(p for p, _r in readings if p and p != "the")
            out[name] = (given[0] if given else None, next(iter(readings))[1])
    return out


def scoring_texts(clause_texts: list[str], roles: dict[str, tuple[str | None, str]], lex: RoleLexicon,
                  context: list[str] | None = None) -> list[str]:
    """Each clause with the role inserted before every introduced name it mentions (once per name).

    A role introduced without a possessive ("Bf Shane") gets the one the clause's own pronouns suggest
    ("she couldn't breathe": her), else the note's (``context``: the note's clauses, when
    ``clause_texts`` are only some of them, read another way).
    """
    if not roles:
        return list(clause_texts)
    note_possessive = pronoun_possessive(" ".join(context if context is not None else clause_texts)) or "her"
    words = lex.role_words
    titles = "|".join(TITLES)
    out = []
    for text in clause_texts:
        new = text
        for name in sorted(roles):
            m = re.search(rf"(?<![\w'])((?:(?:{titles})\.?[ \t]+)?){re.escape(name)}\b", new)
            if m is None:
                continue
            if re.search(rf"(?<![\w/-])(?:{words})[ \t]*[,(]?[ \t]*$", new[:m.start()], re.I) \
                    or re.match(rf"[ \t]*[,(][ \t]*(?:\w+[ \t]+)?(?:{words})(?![\w/-])", new[m.end():], re.I):
                continue  # the role already stands beside the name (the introducing clause)
            poss, role = roles[name]
            poss = poss or pronoun_possessive(text.replace(name, "")) or note_possessive
            new = f"{new[:m.start()]}{poss} {role} {new[m.start():]}"
        out.append(new)
    return out
