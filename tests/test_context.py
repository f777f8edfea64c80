"""Assertion context on the language of case work (fresh sentences)."""

from __future__ import annotations

import pytest

from notereader.pipeline.context_eval import ContextTagger, evaluate
from tests.conftest import NEGEX


@pytest.fixture(scope="module")
def tagger():
    return ContextTagger()


def tag(tagger, text, target):
    i = text.index(target)
    return tagger.tag(text, i, i + len(target))


@pytest.mark.parametrize("text,target,axis", [
    ("Cl denies SI/HI at this time.", "SI", "negated"),
    ("No concerns noted with the children's supervision.", "supervision", "negated"),
    ("Mother reports no signs of bruising on the toddler.", "bruising", "negated"),
    ("Hx of opioid use disorder, sober 3 yrs.", "opioid use", "historical"),
    ("In 2019 she was evicted from the Maple Court apartments.", "evicted", "historical"),
    ("He used to drink heavily before his son was born.", "drink", "historical"),
    ("If the landlord files, the family could be evicted by May.", "evicted", "hypothetical"),
    ("Safety plan reviewed in case urges return over the holiday.", "urges", "hypothetical"),
    ("CM to watch for signs of relapse after the court date.", "relapse", "hypothetical"),
    ("Her sister was evicted last week.", "evicted", "other_person"),
    ("A neighbour overdosed in the stairwell on Friday.", "overdosed", "other_person"),
    ("The eviction was dismissed after the arrears were paid.", "eviction", "resolved"),
    ("The warrant was recalled on Monday.", "warrant", "resolved"),
    ("The shut-off notice from the gas company was paid by her church on Tuesday.", "shut-off notice", "resolved"),
    ("PHQ-9 item 9 scored 0 today.", "item 9", "screening_negative"),
    ("Hunger Vital Sign screen negative.", "Hunger Vital Sign", "screening_negative"),
    # a time word right after the instrument dates the screen
    ("PHQ-9 this morning came to 3, 0 on the self-harm item.", "self-harm", "screening_negative"),
    # a two-way cue before a colon reaches back as well as over what follows
    ("Report of theft by the home aide unsubstantiated: bank records reviewed with cl.", "theft", "resolved"),
    ("The burn on her left hand has healed, no dressing needed.", "burn", "resolved"),
])
def test_each_context_is_found(tagger, text, target, axis):
    got = tag(tagger, text, target)
    assert got[axis], got
    cue = next(c for c in got["cues"] if c["category"] == axis)
    assert text[cue["start"]:cue["end"]] == cue["text"]


@pytest.mark.parametrize("text,target", [
    ("Cl said she is being evicted and has nowhere to go.", "evicted"),
    ("Mother reports the baby was left home alone overnight.", "left home alone"),
    ("Her nephew takes her Social Security check every month.", "takes"),
    ("Client denies drinking, but reports she relapsed on Saturday.", "relapsed"),
    ("After his uncle's funeral he started drinking again.", "drinking"),
    ("The lights got cut off yesterday.", "cut off"),
    # "remote" is ConText's cue for a remote history, not the TV remote
    ("His mom threw the TV remote at him when he asked for dinner.", "threw"),
    ("He broke the remote control and his dad hit him for it.", "hit him"),
    # nor case work's remote meeting or access, which happen now
    ("Mrs. Oduya let a caller remote into her bank account yesterday.", "bank account"),
    ("Remote session: bf hit her Friday.", "bf hit her"),
    ("The pressure sore on his heel has not healed and now smells.", "pressure sore"),
    # "was paid" settles what is behind it, not what follows
    ("She was paid on Friday but the power was shut off Monday for the old balance.", "power was shut off"),
    # but it still parts an old screen from what is said now
    ("PHQ-9 score of 0 at intake, today she says she wants to die.", "wants to die"),
])
def test_asserted_mentions_stay_asserted(tagger, text, target):
    got = tag(tagger, text, target)
    assert not any(got[a] for a in ("negated", "historical", "hypothetical", "other_person", "resolved")), got


def test_scope_stops_at_terminators(tagger):
    text = "Denies SI; however she says her boyfriend choked her last night."
    assert not tag(tagger, text, "choked")["negated"]


def test_whitespace_runs_do_not_break_cues(tagger):
    assert tag(tagger, "Doppler negative  \n for DVT.", "DVT")["negated"]


@pytest.mark.dev_corpus
def test_negex_figures_beat_the_reference_systems():
    """medspaCy 1.3.1 ConText on this set: negated F1 0.930, historical 0.629."""
    if not NEGEX.exists():
        pytest.skip("NegEx set not present")
    r = evaluate(NEGEX)
    assert r["negated"]["f1"] >= 0.97
    assert r["historical"]["f1"] > 0.629
    assert r["hypothetical"]["f1"] >= 0.85  # medspaCy 0.809


def clause_context(text):
    """The context of a whole sentence, as the rubric matcher sees a clause matched by meaning."""
    import spacy

    from notereader.pipeline.context import ContextRules, assess, find_cues
    from notereader.pipeline.matcher import CLAUSE_MIN_COVER

    nlp = spacy.blank("en")
    rules = ContextRules(nlp)
    doc = nlp.make_doc(text)
    ctx = find_cues(doc, rules)
    return assess(ctx, rules, 0, len(doc), 0, len(doc), min_cover=CLAUSE_MIN_COVER)


@pytest.mark.parametrize("text", [
    "His cousin lost his apartment in March and is sleeping in his car.",
    "Client's older brother overdosed at a party on Saturday.",
    "Cl told writer her best friend tried to kill herself last week.",
    "His roommate's girlfriend was arrested for shoplifting.",
    "Her friend Tanya has been drinking again and cl is worried.",
    # a woman named as the other person is the "her" that follows her
    "Cl mentioned her aunt in Tulsa lost her job and her apartment last month.",
])
def test_another_person_as_subject_of_the_clause(text):
    assert clause_context(text).has("other_person")


@pytest.mark.parametrize("text", [
    "Her nephew takes her Social Security check every month.",
    "Her nephew has been taking money out of cl's account.",
    "Cl was evicted and is now staying with her sister.",
    "Her sister says the client has not eaten in days.",
    "The landlord's son threatened to change the locks on cl.",
    # unless what follows is the client's own means, which others take
    "Her granddaughter keeps her debit card and spends her check.",
])
def test_the_client_stays_in_the_clause(text):
    assert not clause_context(text).has("other_person")


@pytest.mark.parametrize("text,axis", [
    ("Cl says she has been sober since 2021 and goes to meetings weekly.", "resolved"),
    # the reporting frame is not what is denied: "Pt says no thoughts of dying" denies all it reports
    ("Pt says no thoughts of dying.", "negated"),
    ("Cl stated that he denies any thoughts of harming his brother.", "negated"),
    # a stated absence of intent denies the harm it names
    ("He said \"I'm not going to hurt that guy, I just want my money back.\"", "negated"),
    ("She has no plan to act on the thoughts of dying.", "negated"),
    ("Says he doesn't want to hurt his stepfather, he only wants to be left alone.", "negated"),
    ("She is not thinking about ending her life, she told the nurse.", "negated"),
    ("He says he hasn't used any meth in six weeks and his sponsor agrees.", "negated"),
])
def test_clause_contexts(text, axis):
    assert clause_context(text).has(axis)


@pytest.mark.parametrize("text", [
    # the frame is only the words that lead straight to the cue; what is reported before it still counts
    "Cl states she used fentanyl Friday and has no cravings.",
    "Mom reports the toddler was left alone all night, no neighbors checked.",
])
def test_a_reported_risk_before_a_denial_is_not_denied(text):
    assert not clause_context(text).has("negated")


@pytest.mark.parametrize("text", [
    "He started using again last week after being clean since the spring.",
    "When CM asked about food, cl opened a bare fridge and said the kids ate at school only.",
    "There is an open warrant that still needs to be resolved before his hearing.",
    "Her PO has since filed a violation report with the court.",
])
def test_clauses_that_stay_asserted(text):
    a = clause_context(text)
    assert not any(a.has(c) for c in ("negated", "historical", "hypothetical", "resolved", "other_person")), a.as_dict()


@pytest.mark.parametrize("text,target", [
    ("His cousin got evicted in the spring and sleeps on a coworker's couch now; cl asked about shelters for him.", "evicted"),
    ("He said a friend from group attempted suicide last week and is in the hospital; he visited him Sunday.",
     "attempted suicide"),
    ("His brother is staying at the shelter after losing his apartment, and Marcus has been giving him bus passes.",
     "shelter"),
    ("His uncle is currently staying at the shelter downtown.", "shelter"),
    # a quotation opened after "and" is the client's own new clause, not the client back in the neighbour's
    ("Cl said his coworker got an eviction notice Friday and \"that freaked me out.\"", "eviction notice"),
])
def test_the_client_after_the_other_persons_clause_does_not_bring_the_mention_back(tagger, text, target):
    assert tag(tagger, text, target)["other_person"]


@pytest.mark.parametrize("text", [
    "He has no history of suicide attempts.",
    "Worker saw no safety concerns for the kids at today's home visit.",
    "The abuse allegation was not substantiated.",
    "She didn't miss a single group this month.",
])
def test_negations_that_reach_the_clause(text):
    assert clause_context(text).has("negated")


@pytest.mark.parametrize("text,target,axis", [
    ("The bills are current, with no shut-off notices.", "shut-off notices", "negated"),
    ("No signs of abuse were seen at the visit.", "signs of abuse", "negated"),
    ("EPDS total 5; item 10 scored 0.", "item 10", "screening_negative"),
])
def test_a_cue_that_starts_before_an_overlapping_target_modifies_it(tagger, text, target, axis):
    assert tag(tagger, text, target)[axis]


def test_a_cue_inside_the_target_does_not_modify_it(tagger):
    assert not tag(tagger, "There was no food in the house.", "no food in the house")["negated"]


@pytest.mark.parametrize("text,axis", [
    # past years and sobriety time
    ("Cl said his gas was disconnected back in 2023, before he enrolled in the payment plan.", "historical"),
    ("Cl slept in her car for much of 2024 until the rapid rehousing program placed her.", "historical"),
    ("Cl has 4 yrs clean from heroin and still goes to Thursday night meetings.", "resolved"),
    # time, attendance and supply
    ("Two no-shows at the clinic in January, none since.", "historical"),
    ("His 2018 burglary conviction came up when the employer ran his record.", "historical"),
    ("Pharmacy log shows no missed pickups for the last two months.", "negated"),
    ("Cl has not run short of formula since the WIC appointment.", "negated"),
    ("He did not miss any shifts this month even with the bus strike.", "negated"),
    ("She denies any drinking this week or last.", "negated"),
])
def test_time_attendance_and_supply_cues_reach_the_clause(text, axis):
    assert clause_context(text).has(axis)


def test_a_sober_spell_that_ended_is_not_resolved():
    a = clause_context("Cl admitted he used heroin Saturday night after eight months clean.")
    assert not a.has("resolved") and not a.has("historical")


def test_after_does_not_end_a_historical_scope():
    assert clause_context("In 2020 he was hospitalized after cutting himself.").has("historical")


@pytest.mark.parametrize("text,target", [
    ("CM could not reach her Monday, but she called back Tuesday morning.", "could not reach"),
    ("The water was shut off on the 3rd, but it was restored two days later.", "shut off"),
    ("His bike was stolen last month but he found another through the co-op.", "stolen"),
    ("The landlord filed for eviction in May, however the case was dismissed.", "eviction"),
])
def test_an_outcome_after_but_resolves_the_clause_before_it(tagger, text, target):
    assert tag(tagger, text, target)["resolved"]


@pytest.mark.parametrize("text,target", [
    ("She got a new eviction notice taped to her door.", "eviction notice"),
    ("He stayed sober through the spring, but he got a new DUI on Saturday.", "DUI"),
    ("Cl called back to say the power company cut her off this morning.", "cut her off"),
])
def test_an_outcome_cue_without_a_but_before_it_resolves_nothing(tagger, text, target):
    assert not tag(tagger, text, target)["resolved"]


def test_the_clause_after_but_is_not_resolved_by_its_own_outcome_cue(tagger):
    text = "The power was off for a week, but he got a new heater and the power is still off."
    assert not tag(tagger, text, "the power is still off")["resolved"]
    assert tag(tagger, text, "The power was off")["resolved"]


def test_a_time_word_that_opens_a_clause_still_ends_a_negation():
    text = "Cl denied using for a month, now she uses every day."
    i = text.index("uses every day")
    assert not ContextTagger().tag(text, i, i + len("uses every day"))["negated"]


def test_whether_opens_a_question(tagger):
    assert tag(tagger, "He asked CM whether a missed check-in means a violation.", "violation")["hypothetical"]


def test_a_negation_reaches_a_clause_by_its_content_words():
    # "denies" reaches a quarter of the words but half of the content words
    assert clause_context("Says it was an accident and denies wanting to harm himself.").has("negated")
    assert not clause_context("She was sobbing and shaking when we arrived and denies it.").has("negated")


def test_a_past_year_inside_a_short_relative_aside_dates_only_the_aside(tagger):
    text = "She said she still hears her grandmother, who passed away in 2019, telling her not to eat."
    assert not tag(tagger, text, "telling her not to eat")["historical"]
    assert tag(tagger, text, "passed away")["historical"]


def test_a_long_relative_clause_is_not_an_aside(tagger):
    # the cue's own list runs on past the comma: its scope is not cut there
    text = "The visit, which found no bruising on the arms or legs, burns, or welts, was brief."
    assert tag(tagger, text, "welts")["negated"]


@pytest.mark.parametrize("text", [
    "He has been sleeping in his truck since last fall.",
    "She has been couch surfing since back in 2024.",
    "Her son has kept her bank card since last year and gives her twenty dollars a week.",
])
def test_a_past_time_after_since_starts_something_ongoing(text):
    assert not clause_context(text).has("historical"), clause_context(text).as_dict()


def test_since_cues_of_their_own_still_apply():
    assert clause_context("Cl says she has been sober since 2021 and goes to meetings weekly.").has("resolved")


@pytest.mark.parametrize("text", [
    "He said his brother's girlfriend keeps posting about his kids online and that she is done the next time he sees her.",
    "Cl said her neighbor's dog barks all night and that she wants to burn the building down.",
])
def test_a_second_report_after_and_that_is_the_clients_own(text):
    assert not clause_context(text).has("other_person"), clause_context(text).as_dict()


@pytest.mark.parametrize("text", [
    "He says he has never hit his girlfriend or the kids.",
    "She said she would never hurt the baby or leave him alone.",
])
def test_has_never_denies_a_whole_clause(text):
    assert clause_context(text).has("negated")


@pytest.mark.parametrize("text", [
    "She says she has never been this far behind on rent.",
    "He said he has never felt so hopeless about anything.",
])
def test_never_as_an_intensifier_denies_nothing(text):
    assert not clause_context(text).has("negated")


def test_a_sober_spell_in_the_past_perfect_is_not_resolved():
    assert not clause_context("He drank all weekend; he had been sober two years before that.").has("resolved")


def test_money_not_given_is_not_a_denial(tagger):
    text = "Cl has not been given any of her pension since June."
    assert not tag(tagger, text, "pension")["negated"]


def test_a_past_year_as_the_date_of_an_event_is_historical():
    assert clause_context("His most recent detox admission was 2022 at the county hospital.").has("historical")


def test_a_rule_with_an_unknown_key_is_refused_by_name(tmp_path):
    import spacy
    import yaml

    from notereader.pipeline.context import RULES_PATH, ContextRules

    data = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    data["rules"].append({"literal": "call for", "category": "hypothetical", "opens_sentance": True})
    bad = tmp_path / "rules.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"'call for'.*opens_sentance"):
        ContextRules(spacy.blank("en"), bad)


def test_the_capitalised_mention_is_the_annotated_one():
    from notereader.pipeline.context_eval import locate

    s = "Schizophrenia:  The patient has a long history of SCHIZOPHRENIA, is on medications."
    a, b = locate(s, "schizophrenia")
    assert s[a:b] == "SCHIZOPHRENIA"
    s = "Cl reports no edema today."
    assert s[slice(*locate(s, "Edema"))] == "edema"


@pytest.mark.parametrize("text,target,axis,expected", [
    # an instruction lists what might happen
    ("Call the crisis line for any thoughts of hurting yourself or others.", "hurting yourself", "hypothetical", True),
    ("Safety plan: call 911 for any threats from him.", "threats", "hypothetical", True),
    ("Call for any chest pain or trouble breathing.", "chest pain", "hypothetical", True),
    ("Meds reviewed.\n- Call for any missed doses", "missed doses", "hypothetical", True),
    # the same words inside a sentence report what happened
    ("She had to call for an ambulance after he choked her.", "choked", "hypothetical", False),
    ("CM will call for a welfare check because the kids were left alone.", "left alone", "hypothetical", False),
    ("Call from mom: her boyfriend hit her last night.", "hit her", "hypothetical", False),
    # a history measured in hours, days or a week or two began within ConText's two weeks: recent
    ("Grandmother reports a two-day history of vomiting and fever in the baby.", "vomiting", "historical", False),
    ("Cl describes a 48-hour history of chest pain.", "chest pain", "historical", False),
    ("Mom reports a 1-week hx of the boy refusing food.", "refusing food", "historical", False),
    ("Cl has a 3-month history of drinking daily.", "drinking daily", "historical", True),
    ("He has a 30 day history of panic attacks.", "panic attacks", "historical", True),
    # a new event after the background ends the history's scope
    ("Cl has a history of asthma and presented to the clinic with a black eye.", "black eye", "historical", False),
    ("Cl has a history of asthma and presented to the clinic with a black eye.", "asthma", "historical", True),
    # each numbered item is a finding of its own
    ("Concerns: 1) hx of eviction 2) lights shut off Friday", "lights shut off", "historical", False),
    ("Concerns: 1) hx of eviction 2) lights shut off Friday", "eviction", "historical", True),
    # an observed absence is a strong negation
    ("HV saw no marks or bruises on the baby.", "bruises", "negated", True),
    ("No signs that anyone is taking her money, per the bank statements.", "taking her money", "negated", True),
    ("He could not say where the rent money went.", "rent money went", "negated", True),
    # an inability is not a possibility
    ("He grabbed her by the neck and she couldn't breathe.", "grabbed her by the neck", "hypothetical", False),
    ("He grabbed her by the neck and she couldn't breathe.", "breathe", "hypothetical", False),
    ("If rent goes up again she could lose the apartment.", "lose the apartment", "hypothetical", True),
    # "could" reaches the few words after it, not a whole dictated run-on
    ("so the kids could eat also her oldest who is nine is watching the baby by himself from 3 to 11 at night",
     "watching the baby by himself", "hypothetical", False),
    # a month of a past year dates the event; "since" starts something still going on
    ("The children were removed in October 2024 after the home was found without food.", "removed", "historical", True),
    ("Evicted Oct. 2023 from the Elm St unit.", "Evicted", "historical", True),
    ("Cl has lived out of her van since October 2024.", "lived out of her van", "historical", False),
    # a time "ago" dates the few words before it
    ("he is hearing voices again and up all night pacing and yelling he did have a psych admission years ago",
     "hearing voices", "historical", False),
    ("he did have a psych admission years ago", "psych admission", "historical", True),
    # someone else, said colloquially
    ("A guy from the camp overdosed Saturday and was taken by ambulance.", "overdosed", "other_person", True),
])
def test_cues_and_scopes_of_engine_1_7(tagger, text, target, axis, expected):
    assert tag(tagger, text, target)[axis] is expected


@pytest.mark.parametrize("text", [
    "UDS today positive for buprenorphine only, as expected.",
    "Urine screen consistent with prescribed methadone; nothing else.",
])
def test_a_screen_showing_only_the_prescribed_medication_is_negative(text):
    assert clause_context(text).has("screening_negative")


def test_not_thinking_clearly_is_a_finding_not_a_denial():
    # "not thinking of/about" denies a thought; "not thinking clearly" is the mental-status finding itself
    assert not clause_context("He is not thinking clearly and keeps pacing the hallway at night.").has("negated")


@pytest.mark.parametrize("text,target", [
    # a client called "she" is the "her" that follows: her money, not the nephew's
    ("She said her nephew took her rent money out of the drawer.", "took her rent money"),
    # and so is one the clause does not call "he" at all
    ("Per cl, the aide had her checkbook and signed checks.", "signed checks"),
])
def test_her_after_another_person_is_still_the_client_unless_the_client_is_he(tagger, text, target):
    assert not tag(tagger, text, target)["other_person"]


def test_a_clause_that_calls_the_client_he_is_about_the_woman_it_names_by_her():
    # read as a whole clause, as the matcher reads a clause matched by meaning
    assert clause_context("He told me his upstairs neighbor had her gas shut off on Monday.").has("other_person")
    assert not clause_context("She told me her upstairs neighbor had her gas shut off on Monday.").has("other_person")
