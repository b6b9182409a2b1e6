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


ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5}
LEVEL = r"([1-5]|iv|v|i{1,3})(?![\w.]*\d)"


def extract_level(text: str) -> int | None:
    """ESI level from a reply that opens with it ('ESI 2: ...', 'Level II', '3 - needs labs'), else
    from the one level it names anywhere ('... so ESI 2', 'triage category 2'). None when absent
    or ambiguous (two different levels named, none of them up front)."""
    lowered = text.lower()
    keyword = r"(?:esi|triage|level|category)\b[\s:=-]*"
    leading = (re.match(rf"\W*(?:{keyword})*([1-5])(?![\w.]*\d)\b", lowered)
               or re.match(rf"\W*(?:{keyword})+(iv|v|i{{1,3}})\b", lowered))  # roman only after a keyword
    if leading:  # the reply opens with its answer, as the prompt asks ("ESI 2: because ...")
        return ROMAN.get(leading.group(1)) or int(leading.group(1))
    for pattern in (rf"\besi\s*(?:level|category)?\s*[-:=]?\s*{LEVEL}\b",
                    rf"\b(?:level|category|acuity|triage)\s*(?:of|is|:|=|-)?\s*{LEVEL}\b",
                    r"^\W*([1-5])\b(?!\s*(?:%|mg|mmhg|hours?|days?|years?|/))"):
        found = {ROMAN.get(m, None) or int(m) for m in re.findall(pattern, lowered)}
        if len(found) == 1:
            return found.pop()
        if len(found) > 1:
            return None
    return None


def score(inst: Instance, completion: Completion) -> Score:
    pred, ref = extract_level(ANSWER_PREFIX + completion.text), inst.answer
    if pred is None:
        return Score({"exact": 0.0, "within_1": 0.0, "under_triage": 0.0, "over_triage": 0.0,
                      "critical_under_triage": 0.0 if ref <= 2 else None, "unparseable": 1.0},
                     None, inst.undertriage_severity, ["unparseable"])
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
