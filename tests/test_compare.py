"""`medrun compare A B`: paired deltas on shared rows, pass-to-fail lists, safety regressions gate
the exit code, and suites that differ are refused unless the shared part is asked for."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import REPO, run_medrun
from runs import make_run

from runner import tasks
from runner.reports import compare
from runner.runs.folder import load_run

SCENARIOS = ["ed-triage-esi", "medication-safety-mc", "patient-portal-messages"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    return {"base": make_run(out, "base", 0.9, seed=1, scenarios=SCENARIOS, limit=8),
            "same": make_run(out, "same", 0.9, seed=1, scenarios=SCENARIOS, limit=8),
            "worse": make_run(out, "worse", 0.4, seed=2, scenarios=SCENARIOS, limit=8),
            "short": make_run(out, "short", 0.9, seed=1, scenarios=SCENARIOS[:2], limit=3)}


def test_identical_answers_pass_the_gate(runs, tmp_path):
    result = run_medrun("compare", str(runs["base"]), str(runs["same"]), "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no safety regression" in result.stdout
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["safety_regressions"] == [] and data["pass_to_fail"] == [] and data["fail_to_pass"] == 0
    assert all(d["delta"] == 0 and d["verdict"] == "no clear change" for d in data["deltas"])


def test_safety_regression_fails_the_gate_and_is_listed_first(runs, tmp_path):
    result = run_medrun("compare", str(runs["base"]), str(runs["worse"]), "--out", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SAFETY REGRESSION" in result.stdout
    c = compare.compare(runs["base"], runs["worse"])
    a, b = load_run(runs["base"]).scores, load_run(runs["worse"]).scores
    both = a.merge(b, on=["scenario_id", "instance_id", "seed"], suffixes=("_a", "_b"))
    expected = set()
    for m in tasks.SAFETY_METRICS:
        hit = both[(both[f"{m}_a"] == 0) & (both[f"{m}_b"] == 1)]
        expected |= set(hit["instance_id"])
    assert expected and set(c.safety_regressions["instance_id"]) == expected
    lost = set(both.loc[(both["passed_a"] == 1) & (both["passed_b"] == 0), "instance_id"])
    assert set(c.pass_to_fail["instance_id"]) == lost - expected  # the rest of pass -> fail, after safety
    md = (tmp_path / "compare.md").read_text()
    assert md.index("## Safety regressions") < md.index("## Pass to fail") < md.index("## Metrics")
    # the paired delta of one cell, recomputed by hand
    row = c.deltas[(c.deltas["category"] == "all") & (c.deltas["metric"] == "passed")].iloc[0]
    clean = both[both["perturbation_a"].isna()]
    assert row["delta"] == pytest.approx(float(np.mean(clean["passed_b"] - clean["passed_a"])))
    assert row["n"] == len(clean) and row["ci_low"] <= row["delta"] <= row["ci_high"]
    assert row["verdict"] == ("worse" if row["ci_high"] < 0 else "no clear change")
    triage = c.by_scenario[(c.by_scenario["scenario"] == "ed-triage-esi") & (c.by_scenario["metric"] == "exact")]
    rows = clean[clean["scenario_id"] == "ed-triage-esi"]
    assert triage.iloc[0]["a"] == pytest.approx(rows["exact_a"].mean()) and triage.iloc[0]["n"] == len(rows)
    assert set(c.by_scenario["scenario"]) == set(SCENARIOS)


def test_runs_of_different_size_compare_on_the_rows_both_have(runs):
    c = compare.compare(runs["base"], runs["short"], shared=True)
    short = load_run(runs["short"]).scores
    assert c.rows == len(short)
    assert c.shared.excluded == {"patient-portal-messages": "not in every run"}
    result = run_medrun("compare", str(runs["base"]), str(runs["short"]))
    assert result.returncode == 2 and "--shared" in result.stderr


def test_changed_scenario_file_is_refused_then_left_out(runs, tmp_path):
    suite = tmp_path / "suite"
    shutil.copytree(REPO / "scenarios", suite)
    path = next(suite.rglob("medication_safety_mc.yaml"))
    path.write_text(path.read_text() + "\n# edited after the baseline run\n")
    edited = make_run(tmp_path / "runs", "edited", 0.9, seed=1, scenarios=SCENARIOS, limit=8, suite=suite)
    result = run_medrun("compare", str(runs["base"]), str(edited))
    assert result.returncode == 2
    assert "differ" in result.stderr and "medication-safety-mc" in result.stderr and "--shared" in result.stderr
    result = run_medrun("compare", str(runs["base"]), str(edited), "--shared")
    assert result.returncode in (0, 1), result.stderr
    assert "medication-safety-mc (its file differs between runs)" in result.stderr
    c = compare.compare(runs["base"], edited, shared=True)
    assert c.shared.scenarios == ["ed-triage-esi", "patient-portal-messages"]
