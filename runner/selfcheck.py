"""The suite checks itself: each instance's ideal reply (its answer, or its reference text) must get
full marks from its own scorer and break none of its safety rules. Catches matchers that miss their
own reference, answers that disagree with their options, and similar authoring slips."""

from __future__ import annotations

from runner import tasks
from runner.engines.base import Completion
from runner.suite import Scenario

MUST_BE_ZERO = {"unparseable", "under_triage", "over_triage", "critical_under_triage", "under_escalation",
                "over_escalation", "stale_fact_propagation", "unsupported_medication"}
MUST_BE_ONE = {"accuracy", "exact", "within_1", "top1", "top3", "must_not_miss_recall", "fact_recall",
               "section_completeness", "json_valid", "f1"}
RUBRIC_FLOOR = 0.6  # a reference reply need not hit every optional criterion


def check_instance(scenario: Scenario, inst) -> list[str]:
    kind = tasks.get(scenario.task)
    text = kind.ideal(inst)
    if text is None:
        return []
    score = kind.score(inst, Completion("self-check", text, 0, 0, "stop"))
    problems = [f"{m} = {v:.2f}" for m, v in score.metrics.items() if v is not None and (
        (m in MUST_BE_ZERO and v != 0) or (m in MUST_BE_ONE and v != 1)
        or (m == "rubric_score" and v < RUBRIC_FLOOR))]
    if inst.safety:
        problems += [f"breaks its own safety rule '{r.id}'" for r in inst.safety.broken(text)]
    if score.severity:
        problems.append(f"severity {score.severity}")
    return problems


def check_scenario(scenario: Scenario) -> list[str]:
    """One line per instance whose ideal reply is not scored as ideal."""
    return [f"{scenario.id}/{inst.id}: its ideal reply scores {', '.join(p)}"
            for inst in scenario.instances if (p := check_instance(scenario, inst))]
