"""`medrun eval` end to end, as a user runs it: offline, killed and resumed, run folder audited."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import MEDRUN, run_medrun

STARTER = ("-s", "medication-safety-mc", "-s", "ed-triage-esi")  # short answers: quick on a CPU


def unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


def only_run_folder(out: Path) -> Path:
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


@pytest.mark.skipif(not unshare_works(), reason="unshare -n (a network namespace) is not permitted here")
def test_eval_runs_with_no_network(tmp_path, weights):
    # inside the namespace there is no route anywhere: prove it, then run the real evaluation there
    probe = subprocess.run(["unshare", "-n", "python3", "-c",
                            "import socket; socket.create_connection(('1.1.1.1', 443), timeout=3)"],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "unreachable" in probe.stderr.lower()
    out = tmp_path / "runs"
    result = run_medrun("eval", *STARTER, "--limit", "2", "--out", str(out), "--cache", str(tmp_path / "c.sqlite"),
                        prefix=("unshare", "-n"))
    assert result.returncode == 0, result.stderr[-3000:]
    folder = only_run_folder(out)
    assert {"manifest.json", "completions.parquet", "scores.parquet", "summary.json"} <= {
        p.name for p in folder.iterdir()}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["model"]["fingerprint"] == weights.fingerprint
    assert manifest["model"]["source_sha256"] == weights.source_sha256
    assert manifest["offline_env"]["HF_HUB_OFFLINE"] == "1"
    assert manifest["packages"]["torch"] and manifest["engine"]["device"] == "cpu"
    assert set(manifest["suite"]["files"]) >= {"suite.yaml"} and len(manifest["suite"]["sha256"]) == 64
    twins = sum(len(s["robustness"]) for s in manifest["suite"]["scenarios"].values())
    assert 2 * 2 <= manifest["counts"]["requests"] <= 2 * (2 + twins)  # 2 clean + their twins per scenario
    summary = json.loads((folder / "summary.json").read_text())
    mc = {m["metric"]: m for m in summary["scenarios"]["medication-safety-mc"]["metrics"]}
    assert mc["accuracy"]["n"] == 2 and 0 <= mc["accuracy"]["value"] <= 1
    triage = {m["metric"] for m in summary["scenarios"]["ed-triage-esi"]["metrics"]}
    assert {"exact", "under_triage", "over_triage", "within_1", "harm_weighted_error"} <= triage
    # the terminal summary a person reads: safety headline, one row per category, worst errors, where things are
    out = result.stdout
    assert out.index("safety:") < out.index("Clean answers per category") < out.index("clinical_decision_support")
    assert "worst errors by harm" in out and f"{folder / 'summary.json'}" in out and f"{folder / 'report.html'}" in out
    assert "run folder:" in out and len(out.splitlines()) < 60
    # the report of the real model's run, still with no network: from the run folder alone
    result = run_medrun("report", str(folder), prefix=("unshare", "-n"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Safety failures" in (folder / "report.md").read_text()


def test_killed_run_resumes_without_losing_or_repeating_work(tmp_path, weights):
    out, db = tmp_path / "runs", tmp_path / "cache.sqlite"
    args = ["eval", *STARTER, "--no-robustness", "--subset", "full", "--out", str(out), "--cache", str(db), "-q"]
    total = 28  # instances in the two starter scenarios
    # batch size 1: every completion is committed on its own, so the kill lands between commits
    victim = subprocess.Popen([MEDRUN, *args, "--max-batch-size", "1"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    done = 0
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        if db.exists():
            try:
                done = sqlite3.connect(db).execute("SELECT COUNT(*) FROM completions").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 6:
                break
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    kept = sqlite3.connect(db).execute("SELECT COUNT(*) FROM completions").fetchone()[0]
    assert 6 <= kept < total, "the kill must land half-way"
    first = only_run_folder(out)
    assert json.loads((first / "manifest.json").read_text())["status"] == "running"

    result = run_medrun(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    second = [p for p in out.iterdir() if p != first][0]
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["from_cache"] == kept
    assert manifest["counts"]["to_generate"] == total - kept
    completions = pd.read_parquet(second / "completions.parquet")
    assert len(completions) == total and completions["from_cache"].sum() == kept
    scores = pd.read_parquet(second / "scores.parquet")
    keys = ["scenario_id", "instance_id", "seed", "metric"]
    assert not scores.duplicated(keys).any()
    assert scores.groupby(["scenario_id", "instance_id"]).ngroups == total
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM completions").fetchone()[0] == total

    # a third run generates nothing at all
    again = run_medrun(*args)
    third = max(out.iterdir(), key=lambda p: p.name)
    assert json.loads((third / "manifest.json").read_text())["counts"]["to_generate"] == 0, again.stderr
