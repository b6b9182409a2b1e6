"""`medrun rescore RUN`: a run's own completions scored again by the current code, into a new run
folder, without a model; and compare/leaderboard refusing runs scored by different scorer versions."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import REPO, run_medrun
from runs import make_run

from runner.pipeline.rescore import rescore
from runner.reports import compare
from runner.runs.folder import KEY, load_run
from runner.runs.manifest import scorer_version

SCENARIOS = ["ed-triage-esi", "medication-safety-mc", "patient-portal-messages"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("rescore"), "model-x", 0.7, seed=3, scenarios=SCENARIOS, limit=5)


def scores(path) -> pd.DataFrame:
    frame = pd.read_parquet(path / "scores.parquet")
    return frame.sort_values([*KEY, "metric"]).reset_index(drop=True)


def test_rescoring_with_the_same_code_gives_the_same_scores(run, tmp_path):
    result = rescore(run, out=tmp_path)
    assert result.folder.parent == tmp_path and result.folder.name.endswith("model-x-rescored-medrun-core")
    manifest = result.manifest
    assert manifest["status"] == "complete" and manifest["rescored_from"]["run"] == str(run)
    assert manifest["counts"]["requests"] == manifest["counts"]["in_run"] and manifest["counts"]["not_rescored"] == {}
    assert manifest["scorer"]["sha256"] == scorer_version()["sha256"] and manifest["model"]["id"] == "model-x"
    pd.testing.assert_frame_equal(scores(run), scores(result.folder))
    old, new = load_run(run).completions, load_run(result.folder).completions
    assert list(old["text"]) == list(new["text"]) and list(old["key"]) == list(new["key"])


def test_rows_asked_differently_now_are_left_out_and_counted(run, tmp_path):
    suite = tmp_path / "suite"
    shutil.copytree(REPO / "scenarios", suite)
    triage = next(suite.rglob("ed_triage_esi.yaml"))
    text = triage.read_text()
    assert "Arrived by private car, helped in by partner." in text
    triage.write_text(text.replace("Arrived by private car, helped in by partner.", "Arrived by private car.", 1))
    (next(suite.rglob("portal_messages.yaml"))).unlink()
    result = rescore(run, suite=suite, out=tmp_path / "runs")
    skipped = result.manifest["counts"]["not_rescored"]
    assert skipped["no longer in the suite"] == 5
    assert skipped["asked differently now"] >= 1  # the edited instance and its robustness twins
    assert result.manifest["counts"]["requests"] + sum(skipped.values()) == result.manifest["counts"]["in_run"]


def test_rescore_command_prints_what_it_left_out(run, tmp_path):
    done = run_medrun("rescore", str(run), "--out", str(tmp_path), "--no-report")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "answers rescored (left out: none)" in done.stdout and "safety:" in done.stdout


def test_runs_scored_by_different_scorers_are_refused_then_noted(run, tmp_path):
    older = tmp_path / "older"
    shutil.copytree(run, older)
    manifest = json.loads((older / "manifest.json").read_text())
    manifest["scorer"] = {"sha256": "0" * 64, "files": {}}  # as a run scored by an earlier medrun records it
    (older / "manifest.json").write_text(json.dumps(manifest))
    refused = run_medrun("compare", str(older), str(run))
    assert refused.returncode == 2
    assert "different scorer versions (000000000000 vs" in refused.stderr and "medrun rescore" in refused.stderr
    noted = run_medrun("compare", str(older), str(run), "--shared")
    assert noted.returncode == 0 and "different scorer versions" in noted.stderr
    board = run_medrun("leaderboard", str(older), str(run), "--out", str(tmp_path / "board"))
    assert board.returncode == 2 and "different scorer versions" in board.stderr
    # rescoring the older run with today's code makes the two comparable again
    fresh = rescore(older, out=tmp_path / "fresh").folder
    assert compare.compare(fresh, run).rows == len(load_run(run).scores)
