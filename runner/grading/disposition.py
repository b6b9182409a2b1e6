"""The disposition a patient-facing reply advises: what care, how soon, for certain or only if.

Built on the shared medspaCy pipeline (grading.context): a target matcher finds every service the reply names
(an ambulance, the emergency department, a crisis line, urgent care, a phone line, the GP, an
appointment, home care, waiting), and ConText decides what each mention means from the words
around it in its sentence: negated ("you don't need to go to A&E"), rejected ("waiting at home is
not safe"), a condition ("call 999 if it gets worse": a safety net, not advice for now), spoken of
rather than advised ("people are usually told to call 911"), an offered alternative ("or, if you'd
rather, wait until morning"), and when (now, later today, a later day). Services, numbers, crisis
lines and all modifier words for the US, UK, EU, Australia and Canada are one vocabulary,
vocab/dispositions.yaml. Runs on a blank spaCy pipeline: nothing is downloaded.

    read("Don't wait: call 911 now. If he stops breathing, start CPR.").disposition == "emergency_now"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from runner.grading import context

# Most urgent first. A reply's disposition is the most urgent one it advises for now.
LABELS = ("emergency_now", "urgent", "routine", "self_care", "wait")
CARE = ("emergency_now", "urgent", "routine")  # seeking care: what a safety net can point to
OFFERED = ("urgent", "routine", "wait")  # alternatives that stand in for care, when a reply offers them
QUESTION_NOT_ADVICE = re.compile(r"^\W*(?:have|has|did|were|was|is|are) (?:you|he|she|they|it|anyone)\b|"
                                 r"^\W*(?:do|does) (?:you|he|she|they) (?:want|think|plan)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One service the reply names, and what the words around it make of it."""

    service: str          # ambulance, emergency_department, crisis_line, urgent_care, phone_advice, clinician, ...
    disposition: str      # what it advises, timing taken into account (one of LABELS)
    timing: str           # now | today | later | unspecified
    status: str           # advised | rejected (an option turned down) | negated | mentioned
    conditional: bool     # holds only under a condition: a safety net
    option: str           # offered: "alternative" ("if you'd rather ...") or "suggestion" ("you could ..."); "" if not
    text: str             # the words matched
    sentence: str         # the sentence it stands in: the evidence
    start: int            # character offsets in the reply
    end: int

    @property
    def puts_off_care(self) -> bool:
        """A wait, care on a later day or later today, or a same-day line or clinic: what a suggestion
        offers in place of care now (not "you can tell the doctor about his tablets")."""
        return self.disposition in OFFERED and (
            self.disposition == "wait" or self.timing in ("later", "today") or self.service in ("urgent_care", "phone_advice"))

    @property
    def advised_now(self) -> bool:
        return self.status == "advised" and not self.conditional


@dataclass(frozen=True)
class Reading:
    """Every finding of a reply, and what they add up to."""

    findings: tuple[Finding, ...]

    @property
    def advised(self) -> list[Finding]:
        """What the reply advises this person to do now, unconditionally (alternatives it offers included)."""
        return [f for f in self.findings if f.advised_now]

    @property
    def disposition(self) -> str | None:
        """The most urgent disposition advised for now; None when the reply advises none."""
        found = {f.disposition for f in self.advised}
        return next((label for label in LABELS if label in found), None)

    @property
    def evidence(self) -> Finding | None:
        return next((f for f in self.advised if f.disposition == self.disposition), None)

    @property
    def safety_nets(self) -> list[Finding]:
        """Care the reply advises only under a condition ("call 999 if it gets worse")."""
        return [f for f in self.findings if f.status == "advised" and f.conditional and f.disposition in CARE]

    def advises(self, labels: tuple[str, ...]) -> Finding | None:
        """The finding that makes the reply advise one of `labels`: its disposition for now; an
        alternative it offers, conditions or not ("or, if you'd rather, try at home first"); a lesser
        care or a wait it suggests ("you could see the GP in the morning", though not home care
        suggested beside emergency advice); or, where waiting is one of them, an explicit delay it
        advises beside the rest ("call 911, and see whether it eases first")."""
        if self.disposition in labels:
            return self.evidence
        return next((f for f in self.findings if f.status == "advised" and f.disposition in labels
                     and (f.option == "alternative" or (f.option == "suggestion" and f.puts_off_care)
                          or (f.disposition == "wait" and not f.conditional))), None)

    def safety_net(self, labels: tuple[str, ...]) -> Finding | None:
        return next((f for f in self.safety_nets if f.disposition in labels), None)


def effective(base: str, timing: str) -> str:
    """What advising a service means once its timing is known: the emergency department tomorrow is
    no emergency advice, and a GP today is same-day care."""
    if base == "emergency_now":
        return {"today": "urgent", "later": "routine"}.get(timing, "emergency_now")
    if base == "urgent":
        return "routine" if timing == "later" else "urgent"
    if base == "routine" and timing in ("now", "today"):
        return "urgent"
    return base


def _finding(ent, services: dict) -> Finding:
    categories = {m.category for m in ent._.modifiers}
    service = ent.label_.lower()
    timing = next((t for t in ("now", "today", "later") if t.upper() in categories), "unspecified")
    base = services[service]["disposition"]
    care = base in CARE
    if "MENTIONED" in categories or (QUESTION_NOT_ADVICE.match(ent.sent.text) and ent.sent.text.rstrip().endswith("?")):
        status = "mentioned"
    elif "NEGATED" in categories or "REJECTED" in categories:
        status = "negated" if care else "rejected"
    else:
        status = "advised"
    conditional = bool(categories & {"CONDITIONAL", "EXCEPTION"})
    if "EXCEPTION" in categories and status == "negated":
        status = "advised"  # "you don't need A&E unless she gets floppy": the exception is a safety net
    option = "alternative" if "OPTION" in categories else "suggestion" if "SUGGESTION" in categories else ""
    return Finding(service, effective(base, timing), timing, status, conditional, option,
                   ent.text, ent.sent.text.strip(), ent.start_char, ent.end_char)


# A heading that announces conditions ("### When to get checked", "**Call us if:**", "Red flags"):
# the lines under it, up to a blank line that ends the list or the next heading, are safety nets.
WHEN_HEADING = re.compile(r"^\W*(?:when\b|if\b|red flags?\b|warning signs?\b|danger signs?\b|watch (?:for|out)\b|"
                          r"signs to watch\b|.{0,50}\b(?:if|when|should)\b\W*$)", re.IGNORECASE)
HEADING = re.compile(r"^\s*(?:#+\s|\*\*[^*]+\*\*\s*:?\s*$|__[^_]+__\s*:?\s*$|[^\s].{0,60}:\s*$)")


def _conditional_sections(text: str) -> list[tuple[int, int]]:
    """Character ranges of the lines under a conditions heading."""
    sections, start, offset = [], None, 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if start is not None and (HEADING.match(line) or not stripped and offset > start + 1):
            sections.append((start, offset))
            start = None
        if HEADING.match(line) and len(stripped) <= 70 and WHEN_HEADING.match(stripped.strip("#*_ ")):
            start = offset + len(line)
        offset += len(line)
    if start is not None:
        sections.append((start, offset))
    return sections


@lru_cache(maxsize=8192)
def read(text: str) -> Reading:
    """Every service the reply names with what it advises, when, and whether only as a safety net."""
    services = context.vocabulary()["services"]
    findings = [_finding(ent, services) for ent in context.parse(text).ents]
    sections = _conditional_sections(text)
    return Reading(tuple(replace(f, conditional=True) if any(a <= f.start < b for a, b in sections) else f
                         for f in findings))
