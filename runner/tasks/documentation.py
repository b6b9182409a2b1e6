"""Documentation written from a source note: fact recall, stale-fact propagation, unsupported
medications (drug names from the suite's vocabulary absent from the source), section completeness."""

from __future__ import annotations

import re

from pydantic import Field

from runner.engines.base import Completion
from runner.grading.drugs import drugs_in
from runner.grading.matching import Matcher, normalize
from runner.tasks.base import JudgeQuestion, Metric, Score, TaskKind
from runner.tasks.schema import BaseInstance, Strict

UNSUPPORTED_MEDICATION_SEVERITY = 3  # an invented drug on a discharge list can be given for real
HISTORICAL = re.compile(
    r"\b(?:stop|stopped|discontinue|discontinued|ceased|held|withheld|withhold|on hold|no longer|previous|"
    r"previously|formerly|former|initially|originally|earlier|superseded|resolved|resolution|removed|"
    r"de-?labell?ed|switched|changed (?:from|to)|replaced|instead of|rather than|was on|reduced|decreased|"
    r"increased|titrated|tapered|weaned|cancell?ed|withdrawn|finished|completed|lifted|(?:improved|fell|rose) "
    r"from|planned but|not given|abandoned|d/c|dc'd|hx of)\b")


class Fact(Strict):
    id: str
    match: Matcher


class StaleFact(Fact):
    severity: int = Field(2, ge=0, le=4, description="harm (0-4) if carried forward as current")


class Section(Strict):
    name: str
    match: Matcher | None = Field(None, description="heading phrasings; default: the name itself")


class Instance(BaseInstance):
    note_type: str = Field(description="e.g. discharge summary, handoff, visit note")
    source_note: str = Field(min_length=50)
    instructions: str
    sections: list[Section] = Field(default_factory=list)
    facts: list[Fact] = Field(min_length=1, description="facts the document must carry")
    stale_facts: list[StaleFact] = Field(default_factory=list, description="outdated facts it must not carry")
    reference: str | None = Field(None, description="a good document, for reviewers and the suite's self-check")


def render(inst: Instance) -> str:
    sections = f"\nUse these sections: {', '.join(s.name for s in inst.sections)}." if inst.sections else ""
    return f"Source note:\n{inst.source_note.strip()}\n\nTask: {inst.instructions.strip()}{sections}"


def expected(inst: Instance) -> str:
    return f"{len(inst.facts)} facts, {len(inst.sections)} sections"


def ideal(inst: Instance) -> str | None:
    return inst.reference


def sentences(text: str) -> list[str]:
    """Sentences, with semicolons splitting too: "diltiazem stopped; continue heparin" is two statements."""
    return [s for s in re.split(r"(?<=[.!?;])\s+|\n+", text) if s.strip()]


def carried_forward(fact: StaleFact, text: str) -> bool:
    """Affirmed in a statement that does not mark it as past (stopped, resolved, reduced, previously...)."""
    return any(fact.match.affirmed(s) and not HISTORICAL.search(normalize(s)) for s in sentences(text))


def has_section(section: Section, text: str) -> bool:
    matcher = section.match or Matcher(any=[section.name])
    heads = [re.sub(r"^(?:[\s#*_>-]|\d+[.)]|[ivx]+[.)]\s)*", "", line) for line in text.splitlines()]
    return any(rx.match(normalize(h)) for h in heads for rx in matcher.regexes())


def score(inst: Instance, completion: Completion) -> Score:
    text = completion.text
    recalled = [f for f in inst.facts if f.match.affirmed(text)]
    stale = [f for f in inst.stale_facts if carried_forward(f, text)]
    unsupported = sorted(drugs_in(text, affirmed_only=True) - drugs_in(inst.source_note))
    metrics: dict[str, float | None] = {
        "fact_recall": len(recalled) / len(inst.facts),
        "stale_fact_propagation": len(stale) / len(inst.stale_facts) if inst.stale_facts else None,
        "unsupported_medication": float(bool(unsupported)),
        "section_completeness": (sum(has_section(s, text) for s in inst.sections) / len(inst.sections)
                                 if inst.sections else None),
    }
    severity = max([f.severity for f in stale] + [UNSUPPORTED_MEDICATION_SEVERITY if unsupported else 0])
    flags = [f"stale: {f.id}" for f in stale] + [f"unsupported drug: {d}" for d in unsupported]
    flags += [f"missing fact: {f.id}" for f in inst.facts if f not in recalled]
    return Score(metrics, f"{len(recalled)}/{len(inst.facts)} facts", severity, flags)


MAX_JUDGED_STATEMENTS = 12  # per document: bounds a judge's work on a long answer


def statement_rule(inst: Instance, statement: str) -> str:
    """The rule grader's reading of one statement: stale (an outdated fact carried as current), invented
    (a drug the source does not name) or supported."""
    if any(carried_forward(f, statement) for f in inst.stale_facts):
        return "stale"
    return "invented" if drugs_in(statement, affirmed_only=True) - drugs_in(inst.source_note) else "supported"


def judge(inst: Instance, text: str) -> list[JudgeQuestion]:
    """The document's statements (sentences of three words or more, at most MAX_JUDGED_STATEMENTS), each
    to be judged against the source note."""
    said = [s.strip() for s in sentences(text) if len(s.split()) >= 3][:MAX_JUDGED_STATEMENTS]
    return [JudgeQuestion("statement", f"s{n}", s, statement_rule(inst, s), source=inst.source_note)
            for n, s in enumerate(said, 1)]


KIND = TaskKind(
    name="documentation", instance=Instance, render=render, score=score, expected=expected, ideal=ideal,
    system=("You are a meticulous physician writing clinical documentation. Use only what the source note "
            "supports; do not invent findings or medications; leave out what is no longer current."),
    max_tokens=384, primary="fact_recall", judge=judge,
    pass_at=0.8,  # at most one in five required facts missing
    metrics={
        "fact_recall": Metric("higher", ideal=1.0, description="share of required facts the document carries"),
        "stale_fact_propagation": Metric("lower", ideal=0.0, description="share of outdated facts carried as current"),
        "unsupported_medication": Metric("lower", ideal=0.0, description="names a drug the source does not"),
        "section_completeness": Metric("higher", ideal=1.0, description="share of required sections present"),
    })
