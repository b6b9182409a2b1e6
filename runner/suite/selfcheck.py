"""The suite checks itself: each instance's ideal reply (its answer, or its reference text) must pass
its own scorer, get every metric's declared ideal value, carry no harm and break none of its safety
rules. Catches matchers that miss their own reference, answers that disagree with their options, and
similar authoring slips."""

from __future__ import annotations

from runner import tasks
from runner.engines.base import Completion
from runner.suite.schema import Scenario


def check_instance(scenario: Scenario, inst) -> list[str]:
    kind = tasks.get(scenario.task)
    text = kind.ideal(inst)
    if text is None:
        return []
    score = kind.score_checked(inst, Completion("self-check", text, 0, 0, "stop"))
    problems = [f"{m} = {v:.2f} (an ideal reply gets {kind.metrics[m].ideal:g})"
                for m, v in score.metrics.items()
                if v is not None and kind.metrics[m].ideal is not None and abs(v - kind.metrics[m].ideal) > 1e-9]
    primary = score.metrics.get(kind.primary)
    if primary is None or primary < kind.pass_at - 1e-9:
        problems.append(f"{kind.primary} = {primary} (below its pass threshold {kind.pass_at:g})")
    if inst.safety:
        problems += [f"breaks its own safety rule '{r.id}'" for r in inst.safety.broken(text)]
    if score.severity:
        problems.append(f"severity {score.severity}")
    return problems


def check_scenario(scenario: Scenario) -> list[str]:
    """One line per instance whose ideal reply is not scored as ideal."""
    return [f"{scenario.id}/{inst.id}: its ideal reply scores {', '.join(p)}"
            for inst in scenario.instances if (p := check_instance(scenario, inst))]
