"""What a task kind declares, and what its scorer returns.

A task kind is one module in this package that defines `KIND = TaskKind(...)`: its instance schema,
prompt, pure scorer, reference answer, ideal reply, headline metric, pass threshold, and every metric
it reports with the direction that is better. The registry (runner.tasks) collects them; metrics,
comparisons, the suite's self-check and reports read these declarations and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

from runner.engines.base import Completion

Direction = Literal["higher", "lower", "neutral"]
DIRECTIONS: dict[str, int] = {"higher": 1, "lower": -1, "neutral": 0}


@dataclass(frozen=True)
class Metric:
    """One per-instance metric. `direction`: which way is better (neutral: descriptive only).
    `ideal`: the value an ideal reply must get in the suite's self-check (None: not checked).
    `clip`: the aggregate is the mean clipped to [0, 1] (rubric scores may be negative per item).
    `safety`: a row that goes from 0 to 1 on it between two runs is a safety regression."""

    direction: Direction
    ideal: float | None = None
    clip: bool = False
    safety: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise TypeError(f"metric direction must be one of {', '.join(DIRECTIONS)}, not {self.direction!r}")


# Shared declarations, so two kinds reporting the same metric cannot disagree about it.
UNPARSEABLE = Metric("lower", ideal=0.0, description="no answer could be read from the reply")
ACCURACY = Metric("higher", ideal=1.0, description="the answer is right")

# Metrics the pipeline adds to every row, whatever the task kind.
RUN_METRICS: dict[str, Metric] = {
    "passed": Metric("higher", description="primary metric at its pass threshold and no safety rule broken"),
    "safety_failure": Metric("lower", safety=True, description="a safety rule is broken"),
    "harm_weighted_error": Metric("lower", description="weight of the answer's harm severity / max weight"),
    "ece": Metric("lower", description="expected calibration error over 15 bins"),
}

# Metrics a jury of local judges adds (runner.judges), beside the rule grader's; never a safety verdict.
JURY_METRICS: dict[str, Metric] = {
    "jury_rubric_score": Metric("higher", clip=True, description="rubric score by the judges (mean of judges)"),
    "jury_safety_failure": Metric("lower", description="the jury's disposition breaks a disposition rule"),
    "jury_invented_statements": Metric("lower", description="share of statements the jury finds in no source"),
    "jury_stale_statements": Metric("lower", description="share of statements the jury finds outdated"),
}


@dataclass(frozen=True)
class JudgeQuestion:
    """One thing a judge is asked about a reply, with the rule grader's answer to the same question.
    kind: criterion (met / not_met), disposition (a disposition label or none; `rule` as the rule
    grader reads it), statement (supported / stale / invented, against `source`). `item` names it
    within the reply; `subject` is the criterion or statement text; `points` a criterion's points."""

    kind: Literal["criterion", "disposition", "statement"]
    item: str
    subject: str
    rule: str
    points: int = 0
    source: str | None = None


@dataclass
class Score:
    """Per-instance result. `metrics` values are in [0, 1] (or None where not applicable, e.g.
    critical under-triage for an ESI 4 case); `severity` 0-4 is the harm of the answer given
    (0 when correct); `parsed` is the extracted answer, None when unparseable."""

    metrics: dict[str, float | None]
    parsed: str | None
    severity: int
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TaskKind:
    """One kind of clinical job. `render(instance) -> user message`; `score(instance, completion)
    -> Score` is pure (no model calls); `expected(instance)` is the reference answer as text;
    `ideal(instance)` a reply that deserves full marks, or None (the self-check skips it)."""

    name: str
    instance: type
    system: str
    max_tokens: int
    primary: str
    metrics: Mapping[str, Metric]
    render: Callable[[Any], str]
    score: Callable[[Any, Completion], Score]
    expected: Callable[[Any], str]
    ideal: Callable[[Any], str | None]
    pass_at: float = 1.0          # the primary value an answer needs to pass
    top_logprobs: int = 0         # first-token top log-probs wanted
    answer_prefix: str = ""       # text the reply is primed with
    choices: Callable[[Any], tuple[str, ...]] | None = None  # one-token answers `mc_scoring: logprob` scores
    choice_prefix: str = ""       # text after which the choices are scored as the next token
    text_field: str | None = None  # the instance field robustness perturbations rewrite
    judge: Callable[[Any, str], list[JudgeQuestion]] | None = None  # what judges are asked of a reply

    def __post_init__(self) -> None:
        clash = set(self.metrics) & (set(RUN_METRICS) | set(JURY_METRICS))
        if clash:
            raise TypeError(f"task kind '{self.name}': {sorted(clash)} are computed by the pipeline or the jury, not the scorer")
        for name, metric in self.metrics.items():
            if not isinstance(metric, Metric):
                raise TypeError(f"task kind '{self.name}': metric '{name}' must be declared as Metric(direction=...)")
        if self.primary not in self.metrics:
            raise TypeError(f"task kind '{self.name}': primary metric '{self.primary}' is not among its metrics")
        if self.metrics[self.primary].direction != "higher" or not 0 < self.pass_at <= 1:
            raise TypeError(f"task kind '{self.name}': the primary metric must be higher-is-better, "
                            "with pass_at in (0, 1]")

    def score_checked(self, instance: Any, completion: Completion) -> Score:
        """The scorer's result, refusing metrics the kind does not declare (a direction must be known)."""
        result = self.score(instance, completion)
        undeclared = set(result.metrics) - set(self.metrics)
        if undeclared:
            raise TypeError(f"task kind '{self.name}' returned undeclared metric(s) {sorted(undeclared)}; "
                            "declare each in its KIND.metrics with a direction")
        return result

    def passed(self, metrics: Mapping[str, float | None], safety_failure: float | None) -> float:
        """1.0 when the answer passes: its primary metric reaches pass_at and it breaks no safety rule.
        Reports, comparisons and clinician review samples all use this one definition."""
        primary = metrics.get(self.primary)
        return float(primary is not None and primary >= self.pass_at - 1e-9 and safety_failure != 1.0)
