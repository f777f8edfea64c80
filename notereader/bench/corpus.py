"""A deterministic benchmark corpus of case notes, generated from templates and vocabulary of its own.

2,000 notes by default, with the length mix of real case notes: about 60%
under 200 words, 30% of 200-600 and 10% of 600-1,500. Sentences are built
from slots (people, places, amounts, dates, services) so that, as in real
notes, boilerplate repeats only a little: the share of distinct sentences is
reported with the corpus, so nobody mistakes a cache's hit rate for speed.
None of this text comes from the dev corpus.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

SEED = 20261123
FIRST = [("Ana", "her"), ("Marcus", "his"), ("Dolores", "her"), ("Kevin", "his"), ("Priya", "her"), ("Tomasz", "his"),
         ("Shanice", "her"), ("Luis", "his"), ("Mei", "her"), ("Abdi", "his"), ("Grace", "her"), ("Dwayne", "his"),
         ("Fatima", "her"), ("Oleksandr", "his"), ("Rosa", "her"), ("Tyrell", "his"), ("Hannah", "her"),
         ("Jorge", "his"), ("Keisha", "her"), ("Bao", "their")]
RELATIONS = ["sister", "brother", "mother", "father", "partner", "girlfriend", "boyfriend", "aunt", "uncle", "cousin",
             "daughter", "son", "grandmother", "roommate", "ex-partner", "case manager at the clinic", "sponsor"]
TAILS = ["", "", "", " on {day}", " according to {pos} {relation}", " last {day}", " earlier in {month}",
         " before the {hour} o'clock bus", " after the visit to {place}", " while we waited at {place}"]
PLACES = ["the food bank on Elm Street", "the county benefits office", "the clinic on 3rd Avenue", "the library",
          "the workforce center", "the shelter intake desk", "the courthouse annex", "the pharmacy", "the laundromat",
          "the school office", "the recovery community center", "the housing authority", "the DMV"]
SERVICES = ["SNAP", "the housing voucher", "Medicaid", "SSI", "the utility assistance fund", "childcare subsidy",
            "the bus pass program", "the job readiness class", "legal aid", "the parenting group",
            "outpatient counselling", "the GED program", "emergency rental assistance"]
THINGS = ["rent", "the electric bill", "the phone bill", "groceries", "bus fare", "a security deposit", "school supplies",
          "a car repair", "prescription co-pays", "the water bill", "work boots", "a crib"]
FEELINGS = ["tired", "hopeful", "frustrated", "anxious", "calm", "overwhelmed", "upbeat", "quiet", "irritable", "relieved"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
HEADERS = ["S:", "O:", "A:", "P:", "Data:", "Assessment:", "Plan:", "Follow-up:"]

TEMPLATES = [
    "{name} arrived {mins} minutes late to the appointment at {place} and said the bus was delayed.",
    "Met with {name} at {place} for about {mins} minutes to review progress on the plan.",
    "{name} reported that {pos} {relation} is helping with {thing} this month.",
    "{name} owes ${amount} toward {thing} and asked about {service}.",
    "Worker helped {name} complete the renewal form for {service}; it is due on {month} {day_n}.",
    "{name} appeared {feeling} today and spoke openly about the week.",
    "{name} said {pos} {relation} visited on {day} and they argued about money.",
    "{name} has an appointment at {place} on {day} at {hour} o'clock.",
    "{name} started working {hours} hours a week at a warehouse near {place}.",
    "{name} missed the {day} meeting at {place} and did not call ahead.",
    "{name} is waiting to hear back about {service} after submitting paperwork on {month} {day_n}.",
    "The apartment was tidy, the fridge had {thing} covered for now, and the heat was working during the {day} visit.",
    "{name} said the landlord has not fixed the leak in the bathroom since {month}.",
    "{name} reported sleeping poorly for {n} nights because of noise from the unit upstairs.",
    "{name} asked for help budgeting ${amount} for {thing} before the end of the month.",
    "Worker called {place} on {name}'s behalf and left a message about {service}.",
    "{name} shared that {pos} {relation} may be able to watch the children on {day}.",
    "{name} denied any thoughts of harming self or others when asked directly.",
    "{name} said {pos} {relation} was arrested in {month} and is still in county jail.",
    "{name} completed {n} job applications this week, including one at {place}.",
    "{name} said things have been hard since losing hours at work in {month}.",
    "{name} was {feeling} when discussing {thing} and needed a few minutes before continuing.",
    "Reviewed the safety plan with {name} for {mins} minutes; no changes were requested.",
    "{name} brought the letter from {service} and we read it together.",
    "{name} reports {n} days sober and attended a meeting at {place} on {day}.",
    "{name} has been skipping meals to stretch the money for {thing}.",
    "{name} is worried the {service} benefit will stop if the paperwork is late.",
    "Next visit is scheduled for {day}, {month} {day_n} at {hour}:00 at {place}.",
    "{name} said the car broke down again and getting to {place} is difficult.",
    "{name} received ${amount} from {service} and used it for {thing}.",
    "{name}'s child has a dental appointment on {day} and {name} needs a ride.",
    "{name} asked whether {service} could cover part of {thing}.",
    "{name} described an argument with {pos} {relation} that got loud but no one was hurt.",
    "{name} said {pos} {relation} had a relapse last year but is doing better now.",
    "Worker will follow up with {place} about {service} by {day}.",
    "{name} reports the medication from {place} is helping with sleep.",
]


@dataclass(frozen=True)
class BenchNote:
    note_id: str
    text: str
    words: int


def _fill(rng: random.Random, template: str, name: str, pos: str) -> str:
    tail = rng.choice(TAILS)
    if tail and template.endswith("."):
        template = template[:-1] + tail + "."
    return template.format(
        name=name, pos=pos, relation=rng.choice(RELATIONS), place=rng.choice(PLACES), service=rng.choice(SERVICES),
        thing=rng.choice(THINGS), feeling=rng.choice(FEELINGS), day=rng.choice(DAYS), month=rng.choice(MONTHS),
        day_n=rng.randint(1, 28), mins=rng.choice([5, 10, 15, 20, 25, 30, 40, 45, 50, 60, 75, 90]),
        amount=rng.randint(12, 2400), hours=rng.randint(8, 38), hour=rng.randint(8, 17), n=rng.randint(2, 40))


def _target_words(rng: random.Random, i: int, n: int) -> int:
    bucket = (i * 7919) % 10  # exactly 6:3:1 over every 10 notes, spread through the corpus
    if bucket < 6:
        return rng.randint(40, 195)
    if bucket < 9:
        return rng.randint(200, 600)
    return rng.randint(600, 1500)


def _note(rng: random.Random, i: int, n: int) -> BenchNote:
    target = _target_words(rng, i, n)
    name, pos = rng.choice(FIRST)
    use_headers = rng.random() < 0.3
    paragraphs: list[str] = []
    words = 0
    while words < target:
        sentences = []
        for _ in range(rng.randint(2, 5)):
            s = _fill(rng, rng.choice(TEMPLATES), name, pos)
            sentences.append(s)
            words += len(s.split())
            if words >= target:
                break
        para = " ".join(sentences)
        if use_headers:
            para = f"{HEADERS[len(paragraphs) % len(HEADERS)]} {para}"
        paragraphs.append(para)
    text = "\n\n".join(paragraphs)
    return BenchNote(f"bench-{i:05d}", text, len(text.split()))


def build_corpus(n: int = 2000, seed: int = SEED) -> list[BenchNote]:
    rng = random.Random(seed)  # nosec B311 # a seeded generator for a reproducible synthetic benchmark corpus, not for secrets
    return [_note(rng, i, n) for i in range(n)]


TYPICAL_WORDS = 200  # the targets are stated for the typical note, under 200 words


def typical(notes: list[BenchNote], n: int | None = None) -> list[BenchNote]:
    """The first ``n`` notes under TYPICAL_WORDS words (all of them when ``n`` is None)."""
    return [x for x in notes if x.words < TYPICAL_WORDS][:n]


def describe(notes: list[BenchNote]) -> dict[str, Any]:
    import re

    sentences = [s for n in notes for s in re.split(r"(?<=[.!?])\s+", n.text) if s.strip()]
    return {
        "notes": len(notes),
        "under_200_words": round(len(typical(notes)) / len(notes), 3),
        "200_to_600_words": round(sum(200 <= n.words <= 600 for n in notes) / len(notes), 3),
        "over_600_words": round(sum(n.words > 600 for n in notes) / len(notes), 3),
        "mean_words": round(sum(n.words for n in notes) / len(notes), 1),
        "sentences": len(sentences),
        "distinct_sentence_share": round(len(set(sentences)) / len(sentences), 3),
    }
