"""`medrun score`: answers produced elsewhere go through the same scorers into the same run folder."""

from __future__ import annotations

import json

import pandas as pd
from conftest import REPO, run_medrun

from runner.suite.load import load_suite

SUITE = load_suite(REPO / "scenarios", ["medication-safety-mc", "ed-triage-esi"])


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_scores_perfect_and_wrong_answers(tmp_path):
    mc, triage = (s for s in sorted(SUITE.scenarios, key=lambda s: s.task != "multiple_choice"))
    rows = [{"scenario_id": mc.id, "instance_id": i.id, "text": f"The answer is {i.answer}."} for i in mc.instances]
    # every triage case one level less urgent than the reference: all under-triaged where possible
    rows += [{"scenario_id": triage.id, "instance_id": i.id, "text": f"{min(i.answer + 1, 5)} - reason"}
             for i in triage.instances]
    path = tmp_path / "answers.jsonl"
    write_jsonl(path, rows)
    out = tmp_path / "runs"
    result = run_medrun("score", "--completions", str(path), "--label", "vendor-x", "--out", str(out),
                        "-s", mc.id, "-s", triage.id)
    assert result.returncode == 0, result.stderr
    folder = next(out.iterdir())
    assert "vendor-x" in folder.name
    summary = json.loads((folder / "summary.json").read_text())
    mc_metrics = {m["metric"]: m for m in summary["scenarios"][mc.id]["metrics"]}
    assert mc_metrics["accuracy"]["value"] == 1.0 and mc_metrics["accuracy"]["n"] == len(mc.instances)
    assert mc_metrics["harm_weighted_error"]["value"] == 0.0
    tri = {m["metric"]: m["value"] for m in summary["scenarios"][triage.id]["metrics"]}
    fives = sum(i.answer == 5 for i in triage.instances)
    assert tri["under_triage"] == (len(triage.instances) - fives) / len(triage.instances)
    assert tri["critical_under_triage"] == sum(i.answer == 2 for i in triage.instances) / sum(
        i.answer <= 2 for i in triage.instances)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["model"]["external"] is True
    assert manifest["counts"]["not_in_file"] > 0  # the robustness twins had no answers
    scores = pd.read_parquet(folder / "scores.parquet")
    assert set(scores["scenario_id"]) == {mc.id, triage.id}


def test_bad_completion_files(tmp_path):
    bad_json = tmp_path / "a.jsonl"
    bad_json.write_text('{"scenario_id": "x"\n')
    r = run_medrun("score", "--completions", str(bad_json))
    assert r.returncode == 2 and f"{bad_json}:1: not valid JSON" in r.stderr and "Traceback" not in r.stderr
    unknown = tmp_path / "b.jsonl"
    write_jsonl(unknown, [{"scenario_id": "medication-safety-mc", "instance_id": "no-such-case", "text": "A"}])
    r = run_medrun("score", "--completions", str(unknown))
    assert r.returncode == 2 and "medication-safety-mc/no-such-case" in " ".join(r.stderr.split())
    missing = tmp_path / "c.jsonl"
    write_jsonl(missing, [{"scenario_id": "medication-safety-mc", "text": "A"}])
    r = run_medrun("score", "--completions", str(missing))
    assert r.returncode == 2 and "instance_id" in r.stderr
