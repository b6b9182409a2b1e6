"""Answer parsers on generated phrasings: every template x every answer x every decoration, with the
expected parse written next to the template, and every one asserted. Replies are read as the
pipeline reads them (triage replies after the 'ESI ' answer prefix)."""

from __future__ import annotations

import itertools

import pytest

from runner.engines.base import Completion
from runner.tasks import calculation, ed_triage, multiple_choice

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V"}
WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
VITALS = "HR 124, BP 92/58, RR 28, SpO2 89% on air, pain 8/10, 74 years old, 3 days of symptoms"
REASON = "she needs 2 resources and has danger-zone vitals"

# (template, expected): {L} a level as a digit; {R} as a Roman numeral; {W} as a word; {M} another level
TRIAGE = [
    ("{L}", "L"), ("{L}: {reason}", "L"), ("{L} - {reason}", "L"), ("**{L}**", "L"), ("{L}/5", "L"),
    ("ESI {L}", "L"), ("ESI-{L}", "L"), ("ESI: {L}", "L"), ("ESI level {L}", "L"), ("Level {R}", "L"),
    ("ESI {R}", "L"), ("ESI Level {R}.", "L"), ("level {W}", "L"), ("Triage category {L}", "L"),
    ("**ESI Level:** {L}", "L"), ("### Triage: ESI {L}", "L"), ("`ESI {L}`", "L"), ("ESI {L}/5 because {reason}", "L"),
    # a leading pronoun or article, the answer later in the sentence
    ("I would assign ESI {L}.", "L"), ("I'd triage this as ESI {L}.", "L"), ("I'd say ESI {L}.", "L"),
    ("I think this is an ESI {L}.", "L"), ("This is an ESI {L} patient.", "L"), ("The ESI level is {L}.", "L"),
    ("An ESI level of {L} is appropriate.", "L"), ("He should be triaged as ESI {L}.", "L"),
    ("A {VITALS} patient: ESI {L}.", "L"),
    # the answer at the end, numbers of every other kind before it
    ("{VITALS}. {reason}. Therefore, ESI {L}.", "L"), ("{VITALS}.\n\nFinal answer: ESI {L}", "L"),
    ("Given {VITALS}, I'd put her at level {L}.", "L"),
    ("ESI {M} was considered, but I would assign ESI {L}.", "L"), ("Not ESI {M}; the final answer is ESI {L}.", "L"),
    # hedges between two levels, and non-answers: no level
    ("ESI {L} or {M}", None), ("ESI {L}-{M}", None), ("between ESI {L} and {M}", None),
    ("{L} or {M}, depending on the labs", None), ("ESI {L} (possibly {M})", None),
    ("Unable to assess.", None), ("I cannot assign an ESI level without more information.", None),
    ("Please seek medical attention.", None),
]


def triage_cases():
    for (template, want), level in itertools.product(TRIAGE, range(1, 6)):
        other = level + 1 if level < 5 else level - 1
        text = template.format(L=level, R=ROMAN[level], W=WORDS[level], M=other, reason=REASON, VITALS=VITALS)
        yield text, (level if want == "L" else None)


TRIAGE_CASES = list(triage_cases())


def test_the_triage_generator_is_large_and_mixed():
    assert len(TRIAGE_CASES) >= 200 and sum(w is None for _, w in TRIAGE_CASES) >= 40


@pytest.mark.parametrize("text, level", TRIAGE_CASES)
def test_triage_phrasings(text, level):
    assert ed_triage.extract_level(ed_triage.ANSWER_PREFIX + text) == level


def triage_instance(answer: int) -> ed_triage.Instance:
    return ed_triage.Instance(id="t", vignette="Walk-in. 70 y/o F. Epigastric discomfort, HR 104.", answer=answer,
                              undertriage_severity=4, rationale="atypical ACS risk in an older woman",
                              tags={"acuity": "high", "age_group": "older_adult", "sex": "female", "setting": "ed"})


@pytest.mark.parametrize("answer", [1, 2, 3, 5])
def test_no_level_is_scored_as_the_worst_case(answer):
    s = ed_triage.score(triage_instance(answer), Completion("k", "Unable to assess without more information.", 0, 0, "stop"))
    assert s.parsed is None and s.metrics["unparseable"] == 1.0 and s.severity == 4
    assert s.metrics["critical_under_triage"] == (1.0 if answer <= 2 else None)
    assert s.metrics["under_triage"] == (1.0 if answer < 5 else 0.0)


OPTIONS = {"A": "Aspirin 300 mg", "B": "Warfarin", "C": "Metformin", "D": "A beta blocker"}
MC = [
    ("{X}", "X"), ("({X})", "X"), ("{X}.", "X"), ("{X}) {text}", "X"), ("**{X}**", "X"), ("{X}. {text}", "X"),
    ("Answer: {X}", "X"), ("Answer: ({x})", "X"), ("**Answer: {X}**", "X"), ("The answer is {X}.", "X"),
    ("The correct answer is {X}.", "X"), ("The answer is: {X}", "X"), ("Correct answer - {X}", "X"),
    ("I would choose option {X} because it fits best.", "X"), ("I'd pick {X}.", "X"), ("I think the answer is {X}.", "X"),
    ("{X} is correct.", "X"), ("{X} is the best answer.", "X"), ("It's {X}.", "X"), ("Option {X}: {text}", "X"),
    ("The best choice is ({x}).", "X"), ("{x}) {text}", "X"),
    # the answer at the end, articles and pronouns before it
    ("A careful reading of the question, and I believe the answer is {X}.", "X"),
    ("I considered {Y}, but the answer is {X}.", "X"), ("Not {Y}. The answer is {X}.", "X"),
    ("The answer is a beta blocker ({X})", "X"), ("A patient like this needs {text} ({X}).", "X"),
    # hedges and non-answers
    ("{X} or {Y}", None), ("Either {X} or {Y} could be right.", None), ("I am not sure.", None),
    ("None of these options is correct.", None), ("", None),
]


def mc_cases():
    for (template, want), letter in itertools.product(MC, OPTIONS):
        other = "B" if letter != "B" else "C"
        text = template.format(X=letter, x=letter.lower(), Y=other, text=OPTIONS[letter])
        yield text, (letter if want == "X" else None)


MC_CASES = list(mc_cases())


@pytest.mark.parametrize("text, letter", MC_CASES)
def test_multiple_choice_phrasings(text, letter):
    assert multiple_choice.extract_letter(text, OPTIONS) == letter


CALC = [
    ("Answer: {n}", "n"), ("Answer: {n} mL/min", "n"), ("The answer is: {n} mL/min (normal > 90).", "n"),
    ("Using Cockcroft-Gault: (140 - 82) x 64 / (72 x 1.3) = {n}\nAnswer: {n} mL/min", "n"),
    ("CrCl \u2248 {n} mL/min", "n"), ("**Score: {n}**", "n"), ("The result is approximately {n}.", "n"),
    ("It comes to {n} (reference range 8-12).", "n"), ("Total = {n}, which is above the threshold of 30.", "n"),
    ("With 3 points for age and 1 for hypertension, the final answer is {n}.", "n"),
    ("Result: {comma}", "n"),
    ("About {n}-{m} mL/min", None), ("It is low.", None), ("I can't calculate this without the weight.", None),
]


def calc_cases():
    for (template, want), value in itertools.product(CALC, (4, 28, 45.5, 138, 1250)):
        comma = f"{value:,}".replace(".", ",") if value != int(value) else f"{int(value):,}"
        text = template.format(n=value if value != int(value) else int(value), m=int(value) + 5, comma=comma)
        yield text, (float(value) if want == "n" else None)


@pytest.mark.parametrize("text, value", list(calc_cases()))
def test_calculation_phrasings(text, value):
    assert calculation.extract_number(text) == value
