"""Suite-wide invariants of the shipped clinical suite (issue: core clinical suite v1)."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import REPO

from runner import tasks
from runner.suite.load import load_suite
from runner.suite.schema import TAXONOMY
from runner.suite.selfcheck import check_scenario

SUITE = load_suite(REPO / "scenarios")
ALL = [(s, i) for s in SUITE.scenarios for i in s.instances]


def test_size_and_coverage():
    assert len(SUITE.scenarios) >= 24
    assert len(ALL) >= 400
    assert {s.category for s in SUITE.scenarios} == set(TAXONOMY)
    assert len({s.subcategory for s in SUITE.scenarios}) >= 15
    assert sum(s.task == "ed_triage" for s, _ in ALL) >= 60
    messages = [(s, i) for s, i in ALL if s.subcategory == "patient_provider_messaging"]
    assert len(messages) >= 40
    assert {i.urgency for _, i in messages} >= {"emergency", "routine"}
    assert sum(s.task == "documentation" for s, _ in ALL) >= 30


def test_every_red_flag_condition_has_three_messages():
    messages = [i for s, i in ALL if s.subcategory == "patient_provider_messaging"]
    flags = Counter(i.condition for i in messages if i.urgency == "emergency")
    assert None not in flags and len(flags) >= 17 and min(flags.values()) >= 3, flags
    assert all(i.condition and i.condition.startswith("near_miss_") for i in messages if i.urgency == "routine")


def test_patient_messages_are_graded_by_typed_disposition_rules():
    for s, i in ALL:
        if s.subcategory == "patient_provider_messaging":
            typed = [r for r in i.safety.must + i.safety.must_not if r.disposition or r.safety_net]
            if i.urgency == "emergency":
                assert any(r.disposition == ["emergency_now"] for r in i.safety.must), (s.id, i.id)
                assert any({"urgent", "routine", "self_care", "wait"} <= set(r.disposition or [])
                           for r in i.safety.must_not), (s.id, i.id)
            else:
                assert any(r.safety_net for r in i.safety.must), (s.id, i.id)
                assert any(r.disposition == ["emergency_now"] for r in i.safety.must_not), (s.id, i.id)
            assert typed


def test_every_task_kind_has_three_examples():
    counts = Counter(s.task for s, _ in ALL)
    assert set(counts) == set(tasks.TASKS)
    assert min(counts.values()) >= 3, counts


def test_triage_levels_span_the_scale():
    levels = Counter(i.answer for s, i in ALL if s.task == "ed_triage")
    assert set(levels) == {1, 2, 3, 4, 5}
    assert levels[2] + levels[3] > levels[1] + levels[5]  # a realistic ED mix, not uniform


def test_mc_and_triage_have_robustness_twins():
    for s in SUITE.scenarios:
        if s.task in ("multiple_choice", "ed_triage"):
            assert s.robustness, s.id


def test_every_patient_facing_item_has_a_safety_rule():
    for s, i in ALL:
        if s.category == "patient_communication_and_education" and s.task == "open_response":
            assert i.safety and (i.safety.must or i.safety.must_not), (s.id, i.id)
            if getattr(i, "urgency", None) == "emergency":
                assert i.safety.must and max(r.severity for r in i.safety.must) >= 3, (s.id, i.id)
            assert i.reference, (s.id, i.id)


def test_every_instance_has_a_real_rationale():
    for s, i in ALL:
        assert len(i.rationale.split()) >= 5, (s.id, i.id)


@pytest.mark.parametrize("scenario", SUITE.scenarios, ids=lambda s: s.id)
def test_every_instance_is_answerable_by_its_scorer(scenario):
    assert check_scenario(scenario) == []


def test_self_check_catches_a_reference_that_breaks_its_rule():
    scenario = next(s for s in SUITE.scenarios if s.task == "open_response"
                    and any(getattr(i, "urgency", None) == "emergency" for i in s.instances))
    inst = next(i for i in scenario.instances if i.urgency == "emergency")
    bad = inst.model_copy(update={"reference": "This is probably nothing. Rest and see how you feel tomorrow."})
    broken = scenario.model_copy(update={"instances": [bad]})
    problems = check_scenario(broken)
    assert problems and "safety rule" in problems[0]
