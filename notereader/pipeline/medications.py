"""What a named medicine is, read beside its name by the sentence models.

Case notes name medicines ("out of her Lantus since Sunday", "ran out of his
Keppra"); the rubrics speak of kinds ("ran out of insulin", "out of his seizure
medication"). Each clause's scoring text (see ``roles.py``) gets the kind
in parentheses after a name the lexicon knows, unless the kind already stands
beside it: "out of her Lantus (insulin) since Sunday". The lexicon is data
(``data/medications.yaml``); context cues, phrases, quotes and citations read
the note's own words.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from notereader.paths import PIPELINE_DATA_DIR

MEDICATIONS_PATH = PIPELINE_DATA_DIR / "medications.yaml"


@dataclass(frozen=True)
class MedicationLexicon:
    kinds: dict[str, str]  # a medicine's name, lowercased -> its kind
    names: re.Pattern[str]
    sha256: str

    @classmethod
    def load(cls, path: Path | None = None) -> "MedicationLexicon":
        raw = (path or MEDICATIONS_PATH).read_bytes()
        data = yaml.safe_load(raw) or {}
        kinds = {str(name).lower(): str(kind) for kind, names in (data.get("medications") or {}).items()
                 for name in names or ()}
        words = "|".join(re.escape(n) for n in sorted(kinds, key=lambda n: (-len(n), n)))
        pattern = re.compile(rf"(?<![\w-])({words})(?![\w-])", re.I) if kinds else re.compile(r"(?!x)x")
        return cls(kinds, pattern, hashlib.sha256(raw).hexdigest())

    def annotate(self, text: str) -> str:
        """``text`` with each known medicine's kind after its name, unless the kind is already in the text."""
        lowered = text.lower()

        def kind(m: re.Match[str]) -> str:
            k = self.kinds[m.group(1).lower()]
            return m.group(0) if k.lower() in lowered else f"{m.group(0)} ({k})"

        return self.names.sub(kind, text)
