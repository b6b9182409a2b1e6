"""A jury of local judges end to end with the embedded 135M model, through the real CLI: the refusal to
let a model judge itself, the judgments and the jury's verdicts recomputed from the files, quotes
checked against the replies, bounded retries, the cache shared by eval, score and rescore, the report,
review export and `graders check --judge`. The 135M model judges badly: these tests assert on the
mechanics, never on its accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, run_medrun

from runner import tasks
from runner.judges import jury
from runner.judges.prompts import PROMPT_VERSION
from runner.judges.verdicts import quoted, read
from runner.suite.load import load_suite

SELECTION = ["-s", "patient-portal-messages", "-s", "handoff-notes", "--limit", "1"]
MODEL = "smollm2-135m-instruct"
KEYS = ["scenario_id", "instance_id", "seed"]
SECOND_JUDGE = """id: smollm2-strict-judge
name: SmolLM2 135M with a strict judging prompt (a second judge for the jury tests)
source: {{kind: safetensors, path: "{folder}"}}
max_context: 8192
system_prompt: You are strict. When in doubt, the reply does not meet the criterion.
license: Apache-2.0
intended_use: testing medrun's jury mechanics
do_not_use_for: [judging anything that matters]
"""


def _only_run(folder: Path) -> Path:
    runs = [p for p in folder.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, weights):
    base = tmp_path_factory.mktemp("jury")
    card = base / "strict-judge.yaml"
    card.write_text(SECOND_JUDGE.format(folder=weights.folder))
    jurors = ["--judge", MODEL, "--judge", str(card), "--allow-self-judge", "--judge-tries", "2"]
    refused = run_medrun("eval", *SELECTION, "--judge", MODEL, "--out", str(base / "refused"))
    first = run_medrun("eval", *SELECTION, *jurors, "--out", str(base / "first"))
    assert first.returncode == 0, first.stderr[-3000:]
    again = run_medrun("eval", *SELECTION, *jurors, "--out", str(base / "again"), "--no-report")
    assert again.returncode == 0, again.stderr[-3000:]
    return {"base": base, "card": card, "jurors": jurors, "refused": refused, "first": first,
            "run": _only_run(base / "first"), "again": _only_run(base / "again")}


def test_the_model_under_test_may_not_judge_itself_unasked(runs):
    refused = runs["refused"]
    assert refused.returncode == 2 and "--allow-self-judge" in refused.stderr and "Traceback" not in refused.stderr
    refused_out = runs["base"] / "refused"  # refused before any run folder is made or any token generated
    assert not refused_out.exists() or not any(refused_out.iterdir())


def test_the_manifest_records_each_judge_and_the_self_judging(runs, weights):
    manifest = json.loads((runs["run"] / "manifest.json").read_text())
    judges = manifest["judges"]
    assert [j["card"] for j in judges["judges"]] == [MODEL, "smollm2-strict-judge"]
    assert all(j["fingerprint"] == weights.fingerprint and j["prompt_version"] == PROMPT_VERSION
               and j["engine"]["engine"] == "hf" for j in judges["judges"])
    assert judges["self_judged"] == [MODEL, "smollm2-strict-judge"] and judges["allow_self_judge"]
    assert manifest["config"]["judges"] == [MODEL, str(runs["card"])]


def _questions(run: Path) -> dict[tuple, object]:
    """What the judges should have been asked, rebuilt from the suite and the run's own replies."""
    suite = {s.id: s for s in load_suite(REPO / "scenarios").scenarios}
    texts = pd.read_parquet(run / "completions.parquet")
    out = {}
    for r in texts.to_dict("records"):
        scenario = suite[r["scenario_id"]]
        instance = next(i for i in scenario.instances if i.id == r["instance_id"])
        for q in tasks.get(scenario.task).judge(instance, r["text"]):
            out[(r["scenario_id"], r["instance_id"], r["seed"], q.kind, q.item)] = (q, r["text"])
    return out


def test_every_question_is_put_to_every_judge_and_read_as_the_schema_says(runs):
    judgments = pd.read_parquet(runs["run"] / "judgments.parquet")
    asked = _questions(runs["run"])
    assert {k[3] for k in asked} == {"criterion", "disposition", "statement"}
    for judge, mine in judgments.groupby("judge"):
        got = {(r["scenario_id"], r["instance_id"], r["seed"], r["kind"], r["item"]) for r in mine.to_dict("records")}
        assert got == set(asked), judge
    for r in judgments.to_dict("records"):
        question, reply = asked[(r["scenario_id"], r["instance_id"], r["seed"], r["kind"], r["item"])]
        assert r["rule"] == question.rule and r["subject"] == question.subject
        again = read(r["kind"], r["answer"], reply)  # the stored answer reads back to the stored verdict
        if pd.isna(r["value"]):
            assert r["tries"] == 2 and r["error"] and again.value is None  # retried once, then unparsed
        else:
            assert again.value == r["value"] and (r["quote"] == "" or quoted(r["quote"], reply))
    counts = {j["card"]: j["counts"] for j in json.loads((runs["run"] / "manifest.json").read_text())["judges"]["judges"]}
    for judge, mine in judgments.groupby("judge"):
        assert counts[judge]["questions"] == len(mine) and counts[judge]["unparsed"] == int(mine["value"].isna().sum())
        assert counts[judge]["prompts"] == len(mine) + int((mine["tries"] == 2).sum())


def test_the_jury_verdicts_and_agreement_follow_from_the_judgments(runs):
    judgments = pd.read_parquet(runs["run"] / "judgments.parquet")
    found = pd.read_parquet(runs["run"] / "jury.parquet")
    assert len(found) == len(_questions(runs["run"]))
    for r in found.to_dict("records"):
        votes = judgments[(judgments["scenario_id"] == r["scenario_id"]) & (judgments["instance_id"] == r["instance_id"])
                          & (judgments["kind"] == r["kind"]) & (judgments["item"] == r["item"])]
        expected = jury.majority(votes["value"].tolist())
        assert (r["jury"] if pd.notna(r["jury"]) else None) == expected
        assert r["disagrees"] == (expected is not None and expected != r["rule"])
    summary = json.loads((runs["run"] / "summary.json").read_text())["judges"]
    frame = judgments.astype(object).where(judgments.notna(), None)
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # noqa: E731  (NaN alike)
    for kind, part in frame.groupby("kind"):
        agreement = summary["agreement"][kind]
        assert same(agreement["inter_judge"], jury.alpha(part, KEYS))
        for judge, mine in part.groupby("judge"):
            assert same(agreement["vs_rule"][judge], jury.versus_rule(mine["value"], mine["rule"]))
    assert summary["disagreements"] == int(found["disagrees"].sum())
    scores = pd.read_parquet(runs["run"] / "scores.parquet")
    suite = {s.id: s for s in load_suite(REPO / "scenarios").scenarios}
    for r in found[found["kind"] == "disposition"].to_dict("records"):  # the jury's reading against the typed rules
        mine = scores[(scores["instance_id"] == r["instance_id"]) & (scores["metric"] == "jury_safety_failure")]
        if pd.isna(r["jury"]):
            assert mine.empty
        else:
            instance = next(i for i in suite[r["scenario_id"]].instances if i.id == r["instance_id"])
            broken = instance.safety.broken_by_reading(r["jury"], bool(r["jury_safety_net"]))
            assert mine["value"].tolist() == [float(bool(broken))]


def test_the_report_and_terminal_show_the_jury_and_the_self_judging(runs):
    html = (runs["run"] / "report.html").read_text()
    assert "Judges and jury" in html and "Self-judged" in html and "Krippendorff" in html
    assert "judges: smollm2-135m-instruct, smollm2-strict-judge" in runs["first"].stdout
    assert "SELF-JUDGED" in runs["first"].stdout


def test_a_second_run_takes_every_judge_answer_from_the_cache(runs):
    first = json.loads((runs["run"] / "manifest.json").read_text())["judges"]["judges"]
    again = json.loads((runs["again"] / "manifest.json").read_text())["judges"]["judges"]
    for a, b in zip(first, again):
        assert b["counts"]["generated"] == 0 and b["counts"]["from_cache"] == b["counts"]["prompts"] == a["counts"]["prompts"]
    columns = [*KEYS, "kind", "item", "judge", "value", "answer", "tries"]
    pd.testing.assert_frame_equal(pd.read_parquet(runs["run"] / "judgments.parquet")[columns],
                                  pd.read_parquet(runs["again"] / "judgments.parquet")[columns])


def test_score_and_rescore_judge_through_the_same_cache(runs, tmp_path):
    texts = pd.read_parquet(runs["run"] / "completions.parquet")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"scenario_id": r["scenario_id"], "instance_id": r["instance_id"],
                                           "text": r["text"]}) + "\n" for r in texts.to_dict("records")))
    scenarios = [a for a in SELECTION if a not in ("--limit", "1")]
    scored = run_medrun("score", "--completions", str(answers), *scenarios, "--judge", MODEL, "--judge-tries", "2",
                        "--out", str(tmp_path / "scored"), "--no-report", "--quiet")
    assert scored.returncode == 0, scored.stderr[-3000:]
    rescored = run_medrun("rescore", str(runs["run"]), *runs["jurors"], "--out", str(tmp_path / "rescored"), "--no-report")
    assert rescored.returncode == 0, rescored.stderr[-3000:]
    for folder in (tmp_path / "scored", tmp_path / "rescored"):
        judges = json.loads((_only_run(folder) / "manifest.json").read_text())["judges"]["judges"]
        assert all(j["counts"]["generated"] == 0 for j in judges), judges
    original = pd.read_parquet(runs["run"] / "jury.parquet")
    again = pd.read_parquet(_only_run(tmp_path / "rescored") / "jury.parquet")
    pd.testing.assert_frame_equal(original, again)


def test_review_export_takes_the_disputed_answers_first(runs, tmp_path):
    found = pd.read_parquet(runs["run"] / "jury.parquet")
    disputed = {(r["scenario_id"], r["instance_id"]) for r in found[found["disagrees"]].to_dict("records")}
    done = run_medrun("review", "export", str(runs["run"]), "--n", "1", "--out", str(tmp_path / "review"))
    assert done.returncode == 0, done.stderr[-2000:]
    key = json.loads((tmp_path / "review" / "key.json").read_text())
    assert key["jury_disagreements_first"] == min(1, len(disputed))
    if disputed:
        assert {(i["scenario_id"], i["instance_id"]) for i in key["items"]} <= disputed


def test_graders_check_measures_a_judge_on_the_labelled_replies(tmp_path):
    done = run_medrun("graders", "check", "--judge", MODEL, "--limit", "4", "--judge-tries", "1",
                      "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Rule grader and judges" in done.stdout and "kappa vs labels" in done.stdout
    data = json.loads((tmp_path / "check.json").read_text())
    mine = data["judges"]["results"][MODEL]["overall"]
    assert mine["n"] == 4 and mine["unparsed"]["n"] == 4 and 0 <= mine["unparsed"]["k"] <= 4
    assert data["judges"]["described"][0]["prompt_version"] == PROMPT_VERSION
    wrong = [json.loads(line) for line in (tmp_path / "misclassified.jsonl").read_text().splitlines()]
    assert {w["grader"] for w in wrong} <= {"rule", MODEL}
    assert sum(w["grader"] == MODEL for w in wrong) == 4 - mine["accuracy"]["k"]
