"""`medrun graders check`: every grader scored against the labelled check set. For the rule grader,
a reply is flagged unsafe when it breaks one of its message's disposition or safety-net rules (the
typed safety rules of the suite, read by grading.disposition). Sensitivity = unsafe replies flagged
/ unsafe replies; specificity = safe replies passed / safe replies; both with Wilson 95% intervals,
overall, per split, per condition and per mechanism; plus how often the grader's disposition and
safety net agree with the labels. The replies it gets wrong are listed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from runner import paths
from runner.errors import MedrunError
from runner.graders.checkset import CheckSet, Item, load
from runner.grading import disposition
from runner.runs.metrics import cohen_kappa, wilson
from runner.suite.load import CHECK_SET, Suite, load_suite


@dataclass(frozen=True)
class Verdict:
    item: Item
    split: str
    condition: str
    unsafe: bool                 # the grader's verdict
    broken: tuple[str, ...]      # the rules it found broken
    disposition: str             # the grader's reading of what the reply advises now ("none": nothing)
    safety_net: bool
    parsed: bool = True          # False: a judge gave no usable verdict (counted unsafe: a person must look)

    @property
    def correct(self) -> bool:
        return self.unsafe == (self.item.label == "unsafe")


def typed_rules(instance) -> list:
    """The disposition and safety-net rules of an instance: what the rule grader checks."""
    return instance.safety.typed() if instance.safety else []


def rule_grader(instance, reply: str) -> tuple[bool, tuple[str, ...]]:
    """(unsafe, rules broken): the suite's own safety verdict on the reply, disposition rules only."""
    typed = {r.id for r in typed_rules(instance)}
    broken = tuple(r.id for r in instance.safety.broken(reply) if r.id in typed)
    return bool(broken), broken


def instances(suite: Suite) -> dict[tuple[str, str], tuple[object, object]]:
    return {(s.id, i.id): (s, i) for s in suite.scenarios for i in s.instances}


def verdicts(checks: CheckSet, suite: Suite, split: str = "all") -> list[Verdict]:
    found = instances(suite)
    out = []
    for item in checks.part(split):
        key = (item.scenario_id, item.instance_id)
        if key not in found:
            raise MedrunError(f"grader check {item.id}: {item.scenario_id}/{item.instance_id} is not in the suite at "
                              f"{suite.root}. Fix the item or pass the suite it was written for.")
        _, inst = found[key]
        if not typed_rules(inst):
            raise MedrunError(f"grader check {item.id}: {item.scenario_id}/{item.instance_id} has no disposition or "
                              "safety-net rule to check a reply against (safety: must/must_not with disposition: or "
                              "safety_net:).")
        unsafe, broken = rule_grader(inst, item.reply)
        reading = disposition.read(item.reply)
        out.append(Verdict(item, checks.split[item.id], getattr(inst, "condition", None) or "unspecified", unsafe,
                           broken, reading.disposition or "none", bool(reading.safety_nets)))
    return out


def rates(group: list[Verdict]) -> dict:
    unsafe = [v for v in group if v.item.label == "unsafe"]
    safe = [v for v in group if v.item.label == "safe"]
    kappa = cohen_kappa([v.unsafe for v in group], [v.item.label == "unsafe" for v in group])
    return {"n": len(group), "kappa": None if kappa != kappa else kappa,
            "unparsed": wilson(sum(not v.parsed for v in group), len(group)),
            "sensitivity": wilson(sum(v.unsafe for v in unsafe), len(unsafe)),
            "specificity": wilson(sum(not v.unsafe for v in safe), len(safe)),
            "accuracy": wilson(sum(v.correct for v in group), len(group)),
            "disposition_agreement": wilson(sum(v.disposition == v.item.disposition for v in group), len(group)),
            "safety_net_agreement": wilson(sum(v.safety_net == v.item.safety_net for v in group), len(group))}


def by(group: list[Verdict], key) -> dict[str, dict]:
    parts: dict[str, list[Verdict]] = defaultdict(list)
    for v in group:
        parts[key(v)].append(v)
    return {k: rates(vs) for k, vs in sorted(parts.items())}


def summarize(found: list[Verdict], checks: CheckSet, grader: str = "rule") -> dict:
    return {"grader": grader, "check_set": checks.files, "items": len(found),
            "overall": rates(found), "splits": by(found, lambda v: v.split),
            "conditions": by(found, lambda v: v.condition), "mechanisms": by(found, lambda v: v.item.mechanism)}


def misclassified(found: list[Verdict], grader: str = "rule") -> list[dict]:
    return [{"grader": grader, **v.item.model_dump(), "split": v.split, "condition": v.condition, "grader_unsafe": v.unsafe,
             "rules_broken": list(v.broken), "grader_disposition": v.disposition,
             "grader_safety_net": v.safety_net} for v in found if not v.correct]


@dataclass(frozen=True)
class Checked:
    """The suite, the check set and the rule grader's verdicts: read once, then measured against the
    labels and handed to the judges."""

    suite: Suite
    checks: CheckSet
    verdicts: list[Verdict]


def check_rules(suite_root: Path | None = None, check_dir: Path | None = None, split: str = "all",
                limit: int | None = None) -> Checked:
    """The rule grader on the check set (the first `limit` replies of the split, if given)."""
    suite = load_suite(suite_root or paths.suite_dir())
    checks = load(check_dir or suite.root / CHECK_SET)
    return Checked(suite, checks, verdicts(checks, suite, split)[:limit])


def run(suite_root: Path | None = None, check_dir: Path | None = None, split: str = "all",
        limit: int | None = None) -> tuple[dict, list[dict]]:
    """The rule grader's figures and its misclassified replies."""
    checked = check_rules(suite_root, check_dir, split, limit)
    return summarize(checked.verdicts, checked.checks), misclassified(checked.verdicts)


FLOOR = "floor.yaml"  # in the check set's folder: the figures below which the rule grader fails CI


def floor(check_dir: Path) -> dict[str, float]:
    path = Path(check_dir) / FLOOR
    if not path.is_file():
        return {}
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    bad = {k: v for k, v in data.items() if k not in ("sensitivity", "specificity") or not 0 <= float(v) <= 1}
    if bad:
        raise MedrunError(f"{path}: only sensitivity and specificity (0-1) may be set, found {bad}.")
    return {k: float(v) for k, v in data.items()}


def below_floor(summary: dict, limits: dict[str, float]) -> list[str]:
    """What falls below the recorded floor, on the whole check set."""
    return [f"{name} {summary['overall'][name]['value']:.3f} < floor {limit:.3f}"
            for name, limit in limits.items() if summary["overall"][name]["value"] < limit - 1e-12]


@lru_cache(maxsize=4)
def measured(suite_root: Path) -> dict | None:
    """The rule grader's figures on a suite's check set, for a run's manifest and report: overall and
    on the held-out part. None where the suite ships no check set."""
    folder = Path(suite_root) / CHECK_SET
    if not folder.is_dir():
        return None
    try:
        summary, _ = run(suite_root, folder)
    except MedrunError as e:  # a suite edited away from its check set: say so rather than fail the run
        return {"grader": "rule", "unavailable": str(e)}
    keep = ("n", "sensitivity", "specificity")
    return {"grader": "rule", "check_set": summary["check_set"],
            "overall": {k: summary["overall"][k] for k in keep},
            "heldout": {k: summary["splits"]["heldout"][k] for k in keep} if "heldout" in summary["splits"] else None}
