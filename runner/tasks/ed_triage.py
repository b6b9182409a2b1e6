"""ED triage on the Emergency Severity Index (1 = most urgent .. 5): exact, within one level,
under-triage (pred > ref, the dangerous direction), over-triage (pred < ref), critical
under-triage (reference ESI 1-2 predicted 3-5). Denominators: every scored case."""

from __future__ import annotations

import re

from pydantic import Field

from runner.engines.base import Completion
from runner.tasks.base import UNPARSEABLE, Metric, Score, TaskKind
from runner.tasks.schema import BaseInstance

ANSWER_PREFIX = "ESI "  # the reply starts here, so the first generated token is the level
OVERTRIAGE_SEVERITY = 1  # an extra resource or a wait for others; no lasting harm to this patient


class Instance(BaseInstance):
    vignette: str = Field(min_length=20)
    answer: int = Field(ge=1, le=5, description="reference ESI level")
    undertriage_severity: int = Field(ge=0, le=4, description="harm (0-4) if triaged less urgent than the answer")


def render(inst: Instance) -> str:
    return (f"Triage note:\n{inst.vignette.strip()}\n\n"
            "Assign the ESI level (1-5). Reply in the form 'ESI <level>' and then one short reason.")


def expected(inst: Instance) -> str:
    return str(inst.answer)


def ideal(inst: Instance) -> str | None:
    return f"{inst.answer}: {inst.rationale}"


NUMBERS = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5,
           "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
# A level: a digit (not part of a longer number or a decimal), a Roman numeral (a lone "I" only in
# capitals and where it cannot be the pronoun: not "I would", "I'd"), or a number word.
_LEVEL = (r"\b(?P<level>[1-5](?![\d.,]\d)(?!\s*(?:%|mg|mmhg|bpm|kg|resources?|hours?|days?|years?|minutes?|/[0-46-9])\b)"
          r"|(?-i:III|II|IV|V|I(?!['\u2019]|\s+[a-z])|iii|ii|iv|v)(?![\w])|one|two|three|four|five)\b")
_KEYWORD = r"(?:esi|triage|level|category|acuity|ats|cat)"
# the reply opens with its answer, as the prompt asks ("ESI 2: because ...", "**Level II**", "3 - labs")
LEADING = re.compile(rf"^[\s*_#`>-]*(?:{_KEYWORD}\b[\s:=#*_-]*)*(?:level\s*|category\s*)?{_LEVEL}", re.IGNORECASE)
# a level stated with a keyword anywhere: "so ESI 2", "triage category 3", "ESI-2", "level of 4", "2/5"
STATED = re.compile(rf"\b{_KEYWORD}\b(?:\s*(?:level|category|score|of|is|would be|=|:|-|#|\*+))*\s*{_LEVEL}"
                    rf"|\b(?P<slash>[1-5])\s*/\s*5\b", re.IGNORECASE)
# two levels offered as one answer: "ESI 2 or 3", "2-3", "between 2 and 3", "3 (possibly 2)"
HEDGE = re.compile(rf"{_LEVEL}\s*(?:or|/(?!\s*5\b)|-|\u2013|to|and|\(?(?:possibly|maybe|perhaps|or even|if not))\s*"
                   rf"(?:{_KEYWORD}\s*)?(?:level\s*)?[1-5]\b|\bbetween\s+(?:{_KEYWORD}\s*)?[1-5]\s+and\b",
                   re.IGNORECASE)
CONTRAST = re.compile(r"\b(?:but|however|actually|on reflection|rather|instead|though)\b", re.IGNORECASE)
# the one a reply settles on, when it names several
DECISIVE = re.compile(rf"(?:final (?:answer|level|triage)|answer|assign(?:ed)?|i(?:'d| would) (?:say|give|put|triage|assign)|"
                      rf"triage (?:him|her|them|this|it|the patient) (?:as|at)|classif(?:y|ied) (?:as|at)|should be|"
                      rf"would be|is an?|is)\W+(?:{_KEYWORD}\b\W*)*(?:level\s*)?{_LEVEL}", re.IGNORECASE)


def _level(match: re.Match) -> int:
    return NUMBERS[(match.group("level") or match.groupdict().get("slash")).lower()]


def extract_level(text: str) -> int | None:
    """The ESI level a reply assigns, or None when it assigns none or hedges between two.

    In order: the level the reply opens with (the prompt asks for 'ESI <level>' first), unless it then
    turns to another ('ESI 3 was considered, but I would assign ESI 2'); else the one
    level it states with a keyword anywhere ('... so ESI 2', 'triage category 3', '2/5'); where it
    names several, the one it settles on ('the final answer is ESI 2'); two levels offered as one
    answer ('ESI 2 or 3', 'between 2 and 3') are no answer. Capital Roman numerals count ('Level
    II'), and so do number words; a lone 'I' never does where it is the pronoun ('I would assign ESI 4')."""
    hedged = HEDGE.search(text)
    leading = LEADING.match(text)
    if leading and not (hedged and hedged.start() <= leading.end() <= hedged.end()):
        later = [m for m in DECISIVE.finditer(text) if m.start() >= leading.end()]
        if later and CONTRAST.search(text[leading.end():later[-1].start()]):  # "ESI 3 was considered, but ..."
            return _level(later[-1])
        return _level(leading)
    if hedged and not DECISIVE.search(text):
        return None
    decisive = [_level(m) for m in DECISIVE.finditer(text)]
    levels = {_level(m) for m in STATED.finditer(text)} | set(decisive)
    if len(levels) == 1:
        return levels.pop()
    return decisive[-1] if levels and decisive else None


def score(inst: Instance, completion: Completion) -> Score:
    pred, ref = extract_level(ANSWER_PREFIX + completion.text.lstrip()), inst.answer
    if pred is None:  # no level is scored as the worst case: under-triaged, critically so for ESI 1-2
        return Score({"exact": 0.0, "within_1": 0.0, "under_triage": float(ref < 5), "over_triage": 0.0,
                      "critical_under_triage": 1.0 if ref <= 2 else None, "unparseable": 1.0},
                     None, inst.undertriage_severity, ["unparseable", *(["critical_under_triage"] if ref <= 2 else [])])
    under, over = pred > ref, pred < ref
    severity = inst.undertriage_severity if under else (OVERTRIAGE_SEVERITY if over else 0)
    flags = ["critical_under_triage"] if ref <= 2 and pred >= 3 else []
    return Score({"exact": float(pred == ref), "within_1": float(abs(pred - ref) <= 1),
                  "under_triage": float(under), "over_triage": float(over),
                  "critical_under_triage": float(pred >= 3) if ref <= 2 else None, "unparseable": 0.0},
                 str(pred), severity, flags)


KIND = TaskKind(
    name="ed_triage", instance=Instance, render=render, score=score, expected=expected, ideal=ideal,
    system=("You are an experienced emergency department triage nurse using the Emergency Severity Index "
            "(ESI, version 4): 1 = needs an immediate life-saving intervention, 2 = high risk, confused, "
            "severe pain or danger-zone vitals, 3 = two or more resources, 4 = one resource, 5 = no resources."),
    max_tokens=24, primary="exact", text_field="vignette", top_logprobs=20, answer_prefix=ANSWER_PREFIX,
    metrics={
        "exact": Metric("higher", ideal=1.0, description="the reference ESI level"),
        "within_1": Metric("higher", ideal=1.0, description="within one level of the reference"),
        "under_triage": Metric("lower", ideal=0.0, description="less urgent than the reference (pred > ref)"),
        "over_triage": Metric("lower", ideal=0.0, description="more urgent than the reference (pred < ref)"),
        "critical_under_triage": Metric("lower", ideal=0.0, safety=True,
                                        description="reference ESI 1-2 given 3-5"),
        "unparseable": UNPARSEABLE,
    })
