"""Scorers and aggregates on hand-written completions and hand-worked numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from runner.engines.base import Completion
from runner.runs import metrics
from runner.tasks import ed_triage, multiple_choice

TAGS = {"acuity": "high", "age_group": "adult", "sex": "female", "setting": "ed"}


def completion(text: str, top=()) -> Completion:
    return Completion("k", text, 10, 3, "stop", list(top))


@pytest.fixture
def mc() -> multiple_choice.Instance:
    return multiple_choice.Instance(
        id="q", question="Which drug is an oral anticoagulant?", rationale="Warfarin is a vitamin K antagonist.",
        options={"A": "Aspirin", "B": "Warfarin", "C": "Metformin", "D": "Lisinopril"}, answer="B",
        harm={"A": 2, "C": 1, "D": 4}, tags=TAGS)


@pytest.mark.parametrize("text, letter", [
    ("B", "B"), ("(C)", "C"), ("B. Warfarin", "B"), ("The answer is D.", "D"), ("answer: (b)", "B"),
    ("I would choose option C because", "C"), ("**C**", "C"), ("A. Apixaban\nB. Apix", "A"),
    ("Warfarin.", "B"), ("A patient should take warfarin", "B"), ("I think A or B", None),
    ("None of these", None), ("", None),
])
def test_extract_letter(mc, text, letter):
    assert multiple_choice.extract_letter(text, mc.options) == letter


def test_mc_score_correct_with_probabilities(mc):
    top = [(" B", math.log(0.6)), ("B", math.log(0.1)), ("A", math.log(0.2)), ("The", math.log(0.05)),
           ("c", math.log(0.05))]
    s = multiple_choice.score(mc, completion("B. Warfarin", top))
    assert s.parsed == "B" and s.severity == 0 and s.metrics["accuracy"] == 1.0
    # renormalised over options: B 0.7, A 0.2, C 0.05, D 0 -> total 0.95
    assert s.metrics["confidence"] == pytest.approx(0.7 / 0.95)
    expected_brier = (0.2 / 0.95) ** 2 + (0.7 / 0.95 - 1) ** 2 + (0.05 / 0.95) ** 2
    assert s.metrics["brier"] == pytest.approx(expected_brier)


def test_mc_wrong_and_unparseable_carry_harm(mc):
    assert multiple_choice.score(mc, completion("D")).severity == 4
    assert multiple_choice.score(mc, completion("C")).severity == 1
    s = multiple_choice.score(mc, completion("I am not sure."))
    assert s.parsed is None and s.metrics["unparseable"] == 1.0 and s.metrics["accuracy"] == 0.0
    assert s.severity == 4  # a non-answer is scored as the worst wrong option
    assert s.metrics["confidence"] is None  # no option letter in the top log-probs


def test_mc_schema_rejects_missing_harm():
    with pytest.raises(ValueError, match="harm must give a severity for exactly the wrong options"):
        multiple_choice.Instance(id="q", question="A question long enough?", rationale="because of reasons",
                                 options={"A": "x", "B": "y", "C": "z"}, answer="A", harm={"B": 1}, tags=TAGS)


def triage(answer: int, severity: int = 4) -> ed_triage.Instance:
    return ed_triage.Instance(id="t", vignette="Walk-in. 70 y/o F. Epigastric discomfort, HR 104.",
                              answer=answer, undertriage_severity=severity, rationale="atypical ACS risk", tags=TAGS)


@pytest.mark.parametrize("text, level", [
    ("2", 2), ("ESI 2", 2), ("ESI-3 because", 3), ("Level II", 2), ("level iv", 4), ("3 - needs labs", 3),
    ("The patient is ESI level 1.", 1), ("Triage category 4", 4), ("ESI: 5", 5),
    ("I think ESI 2 or ESI 3", None), ("He is 45 years old", None), ("ESI 10", None),
])
def test_extract_level(text, level):
    assert ed_triage.extract_level(text) == level


def test_triage_directions():
    # the prompt ends with the prefix "ESI ", so the completion text starts at the level
    under = ed_triage.score(triage(2, 4), completion("3: needs labs"))
    assert under.metrics == {"exact": 0.0, "within_1": 1.0, "under_triage": 1.0, "over_triage": 0.0,
                             "critical_under_triage": 1.0, "unparseable": 0.0}
    assert under.severity == 4 and "critical_under_triage" in under.flags
    over = ed_triage.score(triage(4, 1), completion("2"))
    assert over.metrics["over_triage"] == 1.0 and over.metrics["within_1"] == 0.0
    assert over.metrics["critical_under_triage"] is None and over.severity == ed_triage.OVERTRIAGE_SEVERITY
    exact = ed_triage.score(triage(1), completion("1 - airway"))
    assert exact.metrics["exact"] == 1.0 and exact.severity == 0
    garbled = ed_triage.score(triage(2, 3), completion("unclear"))
    assert garbled.parsed is None and garbled.metrics["unparseable"] == 1.0 and garbled.severity == 3


def test_harm_weighted_error_formula():
    # severities 0, 1, 4, 3 with weights 0,1,2,5,10: (0 + 1 + 10 + 5) / (4 x 10) = 0.4
    per = metrics.harm_weighted_error(pd.Series([0, 1, 4, 3]))
    assert per.mean() == pytest.approx(0.4)
    with pytest.raises(ValueError):
        metrics.harm_weighted_error(pd.Series([0]), (0, 0, 0, 0, 0))


def test_ece_hand_worked():
    # bin of 0.9 (2 items, 1 correct): |0.5-0.9| ; bin of 0.3 (2 items, 0 correct): |0-0.3|
    conf = np.array([0.9, 0.9, 0.3, 0.3])
    correct = np.array([1.0, 0.0, 0.0, 0.0])
    assert metrics.ece(conf, correct) == pytest.approx(0.5 * 0.4 + 0.5 * 0.3)
    assert metrics.ece(np.array([1.0]), np.array([1.0])) == 0.0  # confidence 1.0 lands in the top bin


def test_bootstrap_interval_brackets_mean():
    values = np.array([0.0, 1.0] * 50)
    value, low, high = metrics.bootstrap(values, np.mean)
    assert value == 0.5 and 0.35 < low < 0.5 < high < 0.65
    assert metrics.bootstrap(values, np.mean) == (value, low, high)  # seeded: reproducible


def test_bootstrap_resamples_an_instance_with_all_its_seeds():
    # three seeds that answered alike carry no more information than one: the clustered interval over the
    # tripled rows equals the interval over one row per instance; treating rows as units narrows it
    values = np.random.default_rng(1).integers(0, 2, 40).astype(float)
    tripled, ids = np.repeat(values, 3), np.repeat(np.arange(40), 3)
    one = metrics.bootstrap(values)
    assert metrics.bootstrap(tripled, clusters=ids) == pytest.approx(one)
    naive = metrics.bootstrap(tripled)
    assert naive[2] - naive[1] < 0.7 * (one[2] - one[1])
    # the statistic path (ECE over pairs) clusters the same way
    pairs = np.column_stack([np.full(40, 0.7), values])
    stat = lambda v: metrics.ece(v[:, 0], v[:, 1])  # noqa: E731
    assert metrics.bootstrap(np.repeat(pairs, 3, axis=0), stat, clusters=ids) == pytest.approx(
        metrics.bootstrap(pairs, stat))
    # summarize finds the instances itself when a group holds several seeds per instance
    frame = pd.DataFrame({"scenario_id": "s", "instance_id": ids.astype(str), "seed": np.tile([0, 1, 2], 40),
                          "passed": tripled})
    (row,) = metrics.summarize(frame, ["passed"])
    assert (row["ci_low"], row["ci_high"], row["n"]) == (pytest.approx(one[1]), pytest.approx(one[2]), 120)
