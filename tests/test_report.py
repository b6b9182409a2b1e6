"""`medrun report`: the sections in the order a safety committee reads them, from the run folder alone,
and the HTML opened in a real headless Chromium: no console errors, no request leaving the file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import run_medrun
from runs import make_run

from runner.reports import report
from runner.runs.folder import load_run

SCENARIOS = ["ed-triage-esi", "medication-safety-mc", "patient-portal-messages", "handoff-notes"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ORDER = ["Safety failures", "Worst errors by harm", "Scores by category and scenario", "ED triage", "Calibration",
         "Subgroup gaps", "Robustness", "Manifest"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("report"), "model-a", 0.5, seed=4, scenarios=SCENARIOS, limit=8)


def test_sections_in_order_with_every_safety_failure_first(run_folder):
    run = load_run(run_folder)
    doc = report.build(run, top=5)
    assert [s.title for s in doc.sections] == ORDER
    rows = run.answers()
    failing = rows[rows["safety_failure"] == 1.0]
    assert len(failing) > 0  # the pretend model gives false reassurance to some red-flag messages
    listed = doc.sections[0].blocks[1].frame
    assert len(listed) == len(failing) and set(listed["instance"]) == set(failing["instance_id"])
    assert listed["twin"].eq("").iloc[: (failing["perturbation"].isna()).sum()].all()  # clean failures first
    worst = [b for b in doc.sections[1].blocks if type(b).__name__ == "Example"]
    assert len(worst) == 5
    harms = [int(b.facts["harm"].split()[0]) for b in worst]
    assert harms == sorted(harms, reverse=True) and harms[0] == rows.loc[rows["perturbation"].isna(), "severity"].max()
    assert all(b.prompt and b.answer for b in worst)  # the prompt and the reply, in full


def test_triage_matrix_and_manifest_match_the_run(run_folder):
    run = load_run(run_folder)
    doc = report.build(run)
    triage = next(s for s in doc.sections if s.title == "ED triage")
    counts = next(b.frame for b in triage.blocks if type(b).__name__ == "Table" and "reference ESI" in b.frame)
    clean = run.scores[(run.scores["task"] == "ed_triage") & run.scores["perturbation"].isna()]
    assert counts.drop(columns="reference ESI").astype(int).to_numpy().sum() == len(clean)
    manifest = next(s for s in doc.sections if s.title == "Manifest").blocks[0].frame
    facts = dict(zip(manifest["field"], manifest["value"]))
    assert facts["weights fingerprint (sha256)"] == run.manifest["model"]["fingerprint"]
    assert facts["suite sha256"] == run.manifest["suite"]["sha256"]


def test_cli_writes_self_contained_html_and_markdown(run_folder):
    result = run_medrun("report", str(run_folder), "--worst", "3")
    assert result.returncode == 0, result.stderr
    html = (run_folder / "report.html").read_text()
    md = (run_folder / "report.md").read_text()
    # nothing to fetch: every src/href is inline data or an anchor in the page
    assert not [u for u in re.findall(r'(?:src|href)="([^"]*)"', html) if not u.startswith(("data:", "#"))]
    assert "<script" not in html and html.count("data:image/png;base64,") >= 4
    headings = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert headings == ORDER
    assert md.index("Safety-rule failures") < md.index("## Worst errors by harm")


def test_report_refuses_an_unfinished_or_foreign_folder(tmp_path, run_folder):
    result = run_medrun("report", str(tmp_path))
    assert result.returncode == 2 and "manifest.json: missing" in result.stderr
    partial = tmp_path / "partial"
    shutil.copytree(run_folder, partial)
    manifest = json.loads((partial / "manifest.json").read_text())
    manifest["status"] = "running"
    (partial / "manifest.json").write_text(json.dumps(manifest))
    result = run_medrun("report", str(partial))
    assert result.returncode == 2 and "did not finish" in result.stderr and "Rerun" in result.stderr
    (run_folder / "scores.parquet").rename(tmp_path / "moved.parquet")
    try:
        result = run_medrun("report", str(run_folder))
        assert result.returncode == 2 and "scores.parquet: missing" in result.stderr
    finally:
        (tmp_path / "moved.parquet").rename(run_folder / "scores.parquet")


@pytest.mark.skipif(not CHROMIUM and os.environ.get("MEDRUN_REQUIRE_CHROMIUM") != "1",
                    reason="no chromium here (CI installs Debian's chromium and sets MEDRUN_REQUIRE_CHROMIUM=1)")
def test_report_loads_in_headless_chromium_without_errors(run_folder, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "MEDRUN_REQUIRE_CHROMIUM=1 but no chromium on PATH"
    html, _ = report.report(run_folder)
    problems, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        response = page.goto(html.as_uri(), wait_until="load")
        images = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        titles = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert response is not None and response.ok
    assert problems == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert images and all(images)
    assert titles == ORDER
    assert shot.stat().st_size > 50_000


def test_run_folder_commands_never_import_a_model_library(run_folder):
    # report, compare, leaderboard and review work on run folders alone: prove no model stack is loaded
    code = ("import sys; import runner.cli; from runner.reports import report, compare, leaderboard, review; "
            f"report.report(__import__('pathlib').Path({str(run_folder)!r})); "
            "print(sorted(m for m in ('torch', 'transformers', 'vllm', 'accelerate') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_subgroup_pass_rates_within_scenarios(run_folder):
    run = load_run(run_folder)
    clean = run.scores[run.scores["perturbation"].isna()]
    section = next(s for s in report.build(run).sections if s.title == "Subgroup gaps")
    sex = next(b.frame for b in section.blocks if getattr(b, "caption", "") == "By sex")
    scenario_rate = clean.groupby("scenario_id")["passed"].transform("mean")
    for row in sex.to_dict("records"):
        mask = clean["tag_sex"] == row["group"]
        assert row["n"] == mask.sum()
        assert float(row["pass rate"]) == pytest.approx(clean.loc[mask, "passed"].mean(), abs=5e-4)
        expected = (clean.loc[mask, "passed"] - scenario_rate[mask]).mean()
        assert float(row["within scenarios"].split()[0]) == pytest.approx(expected, abs=5e-4)
