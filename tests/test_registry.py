"""The task-kind registry: every kind declares its metrics with a direction, and mistakes in a
declaration are errors when the module is imported, not silent defaults."""

from __future__ import annotations

import pytest

from runner import tasks
from runner.engines.base import Completion
from runner.tasks import multiple_choice
from runner.tasks.base import Metric, Score, TaskKind
from runner.tasks.schema import BaseInstance


def kind(**change) -> TaskKind:
    fields = dict(name="toy", instance=BaseInstance, system="s", max_tokens=4, primary="right",
                  metrics={"right": Metric("higher", ideal=1.0), "wordy": Metric("lower")},
                  render=lambda i: "q", score=lambda i, c: Score({"right": 1.0}, "x", 0), expected=lambda i: "x",
                  ideal=lambda i: "x")
    return TaskKind(**{**fields, **change})


def test_the_suite_kinds_are_found_by_their_modules():
    assert list(tasks.TASKS) == ["calculation", "differential", "documentation", "ed_triage", "extraction",
                                 "multiple_choice", "open_response"]
    assert tasks.get("multiple_choice") is multiple_choice.KIND


def test_directions_come_from_the_declarations():
    assert tasks.direction("accuracy") == 1 and tasks.direction("brier") == -1 and tasks.direction("confidence") == 0
    assert tasks.direction("safety_failure") == -1 and tasks.direction("passed") == 1
    assert set(tasks.SAFETY_METRICS) == {"safety_failure", "critical_under_triage", "under_escalation"}
    assert tasks.CLIPPED == {"rubric_score", "jury_rubric_score"}


def test_an_undeclared_metric_has_no_direction():
    with pytest.raises(KeyError, match="metric 'bleu' is declared by no task kind"):
        tasks.direction("bleu")


@pytest.mark.parametrize("change, message", [
    ({"metrics": {"right": Metric("higher"), "wordy": "lower"}}, "metric 'wordy' must be declared as Metric"),
    ({"primary": "missing"}, "primary metric 'missing' is not among its metrics"),
    ({"primary": "wordy"}, "the primary metric must be higher-is-better"),
    ({"pass_at": 1.5}, "pass_at in \\(0, 1\\]"),
    ({"metrics": {"right": Metric("higher"), "passed": Metric("higher")}}, "computed by the pipeline"),
])
def test_a_bad_declaration_fails_when_the_kind_is_built(change, message):
    with pytest.raises(TypeError, match=message):
        kind(**change)


def test_a_metric_needs_a_known_direction():
    with pytest.raises(TypeError, match="direction must be one of higher, lower, neutral"):
        Metric("up")


def test_a_scorer_returning_an_undeclared_metric_is_refused():
    toy = kind(score=lambda i, c: Score({"right": 1.0, "fluency": 0.5}, "x", 0))
    with pytest.raises(TypeError, match=r"returned undeclared metric\(s\) \['fluency'\]"):
        toy.score_checked(None, Completion("k", "x", 0, 0, "stop"))


def test_two_kinds_may_not_disagree_about_a_metric():
    a = kind(name="a", metrics={"right": Metric("higher"), "recall": Metric("higher")})
    b = kind(name="b", metrics={"right": Metric("higher"), "recall": Metric("lower")})
    with pytest.raises(TypeError, match="metric 'recall' is 'lower' in task kind 'b' but 'higher' in task kind 'a'"):
        tasks._merge({"a": a, "b": b})
