"""De-identification of text leaving the service in analyst exports.

Built on Presidio (presidio-analyzer finds, presidio-anonymizer replaces),
configured to run fully offline:

* Presidio's default NLP engine loads ``en_core_web_lg`` and downloads it
  when missing. notereader ships no trained spaCy pipeline (its reader uses
  ``spacy.blank("en")`` for tokens only), so the engine here is a blank
  English spaCy pipeline: tokens, no NER, nothing downloaded.
* The e-mail recognizer validates domains with ``tldextract``, which fetches
  the public-suffix list from the network by default; here it reads the
  snapshot bundled with tldextract instead.

What is masked, and how it is found:

===============  ===========================================================
EMAIL_ADDRESS    Presidio's EmailRecognizer (pattern + domain check)
PHONE_NUMBER     Presidio's PhoneRecognizer (Google's ``phonenumbers``), and a
                 pattern for numbers written like one that phonenumbers
                 knows to be unassigned ("555-867-5309")
DATE             Presidio's DateRecognizer (its DATE_TIME entity, shown as <DATE>)
                 and a pattern for written dates ("March 3, 1990"): every date, not only a date of
                 birth (a date next to a person is identifying either way)
ADDRESS          a pattern: house number, street name, street type
                 ("42 Elm Street", "1200 N. Oak Ave Apt 3B"), PO boxes
PERSON           patterns, because there is no NER model to find names:
                 a title and a name ("Ms. Alvarez", "Dr Chen"); two or three
                 capitalised words in a row ("Jane Doe", which also masks
                 some proper nouns that are not names: over-masking is the
                 safe side); a capitalised word after a word that
                 introduces a person ("her son Marcus", "named Tia",
                 "client Rosa"); and any ``known_names`` the caller passes
===============  ===========================================================

Limitation, stated plainly: a lone first name at the start of a sentence
with no cue before it ("Marcus was upset.") is not found by any pattern.
An NER model would find it; adding one means shipping and pinning its
weights (see the determinism contract), which this service does not do yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

ENTITIES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "DATE_TIME", "ADDRESS")
LABELS = {"DATE_TIME": "DATE"}  # the placeholder shown for an entity type, where it differs from the type
CASE_SENSITIVE = re.DOTALL | re.MULTILINE
STREET_TYPES = ("Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|"
                "Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Close|Crescent|Row")
PERSON_CUES = ("client|named|called|son|daughter|mother|mom|mum|father|dad|sister|brother|husband|wife|partner|"
               "boyfriend|girlfriend|fiance|fiancee|grandmother|grandma|grandfather|grandpa|aunt|uncle|cousin|niece|"
               "nephew|child|baby|friend|neighbor|neighbour|roommate|landlord|caseworker|worker|officer|"
               "met with|spoke with|spoke to|talked to|talked with|visited|saw|named her|named him")
TITLES = "Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Rev|Officer|Det|Sgt|Judge"
CAP_WORD = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"


@dataclass(frozen=True)
class Masked:
    text: str
    entities: tuple[str, ...]  # the entity types masked, in text order


def _recognizers(known_names: Iterable[str]) -> list[object]:
    from presidio_analyzer import Pattern, PatternRecognizer
    from presidio_analyzer.predefined_recognizers import DateRecognizer, EmailRecognizer, PhoneRecognizer

    class OfflineEmailRecognizer(EmailRecognizer):
        """EmailRecognizer whose domain check uses tldextract's bundled suffix list, never the network."""

        def validate_result(self, pattern_text: str) -> bool:
            return bool(_offline_tld().extract_str(pattern_text).suffix)

    address = PatternRecognizer(
        supported_entity="ADDRESS", name="StreetAddressRecognizer", global_regex_flags=CASE_SENSITIVE | re.IGNORECASE,
        patterns=[
            Pattern("street", rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Za-z0-9'.-]+\s+){{0,3}}?(?:{STREET_TYPES})\b\.?"
                              r"(?:,?\s+(?:Apt|Apartment|Unit|Suite|Ste|#)\.?\s*[A-Za-z0-9-]+)?", 0.7),
            Pattern("po_box", r"\bP\.?\s?O\.?\s+Box\s+\d{1,6}\b", 0.7),
        ])
    person = PatternRecognizer(
        supported_entity="PERSON", name="PersonPatternRecognizer", global_regex_flags=CASE_SENSITIVE,
        patterns=[
            Pattern("titled", rf"\b(?:{TITLES})\.?\s+{CAP_WORD}(?:\s+{CAP_WORD})?\b", 0.8),
            Pattern("capitalised_run", rf"\b{CAP_WORD}(?:\s+{CAP_WORD}){{1,2}}\b", 0.5),
            # Variable-length look-behind: Presidio compiles patterns with the ``regex`` module, which has it.
            Pattern("after_cue", rf"(?<=(?i:\b(?:{PERSON_CUES}))\s+){CAP_WORD}\b", 0.6),
        ])
    # phonenumbers rejects numbers it knows are unassigned (555 area codes, say); a number written like a
    # phone number is masked all the same.
    phone_shape = PatternRecognizer(
        supported_entity="PHONE_NUMBER", name="PhoneShapeRecognizer", global_regex_flags=CASE_SENSITIVE,
        patterns=[Pattern("nanp", r"(?<!\d)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\d)", 0.5),
                  Pattern("intl", r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\d{2,5}){2,5}(?!\d)", 0.5)])
    month = ("(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
             "Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
    written_dates = PatternRecognizer(
        supported_entity="DATE_TIME", name="WrittenDateRecognizer", global_regex_flags=CASE_SENSITIVE | re.IGNORECASE,
        patterns=[Pattern("month_day_year", rf"\b{month}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", 0.6),
                  Pattern("day_month_year", rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{month}\.?,?\s+\d{{4}}\b", 0.6)])
    recognizers = [OfflineEmailRecognizer(), PhoneRecognizer(supported_regions=("US", "GB", "CA")),
                   phone_shape, DateRecognizer(), written_dates, address, person]
    names = sorted({n.strip() for n in known_names if n and n.strip()})
    if names:
        recognizers.append(PatternRecognizer(supported_entity="PERSON", name="KnownNamesRecognizer", deny_list=names))
    return recognizers


@lru_cache(maxsize=1)
def _offline_tld():  # type: ignore[no-untyped-def]
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class Deidentifier:
    """Masks personal identifiers in free text; build once per process (about a second), reuse."""

    def __init__(self, known_names: Iterable[str] = ()) -> None:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_anonymizer import AnonymizerEngine

        class BlankSpacyEngine(SpacyNlpEngine):
            """Presidio's spaCy engine over a blank English pipeline: nothing to download."""

            def load(self) -> None:
                self.nlp = {"en": spacy.blank("en")}

        engine = BlankSpacyEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
        engine.load()
        registry = RecognizerRegistry(supported_languages=["en"])
        for r in _recognizers(known_names):
            registry.add_recognizer(r)
        self._analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
        self._anonymizer = AnonymizerEngine()

    def mask(self, text: str, extra_names: Iterable[str] = ()) -> Masked:
        """``text`` with every identifier found replaced by ``<ENTITY>``."""
        from presidio_analyzer import PatternRecognizer
        from presidio_anonymizer.entities import OperatorConfig

        ad_hoc = [n for n in extra_names if n and n.strip()]
        extra = [PatternRecognizer(supported_entity="PERSON", deny_list=ad_hoc)] if ad_hoc else None
        found = self._analyzer.analyze(text=text, language="en", entities=list(ENTITIES), score_threshold=0.3,
                                       ad_hoc_recognizers=extra)
        if not found:
            return Masked(text, ())
        operators = {e: OperatorConfig("replace", {"new_value": f"<{LABELS.get(e, e)}>"}) for e in ENTITIES}
        out = self._anonymizer.anonymize(text=text, analyzer_results=found, operators=operators)  # type: ignore[arg-type]
        kinds = tuple(LABELS.get(i.entity_type, i.entity_type) for i in sorted(out.items, key=lambda i: i.start))
        return Masked(out.text, kinds)


@lru_cache(maxsize=1)
def default_deidentifier() -> Deidentifier:
    return Deidentifier()
