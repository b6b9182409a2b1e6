"""`medrun graders check`: the rule grader measured on the labelled replies, the recorded floor that
CI holds it to, and clear errors for a check set that cannot be used."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from conftest import REPO, run_medrun

from runner.errors import MedrunError
from runner.graders import checkset
from runner.graders.check import CHECK_SET, floor, run
from runner.suite.load import load_suite

CHECKS = REPO / "scenarios" / CHECK_SET
SUITE = load_suite(REPO / "scenarios")
MESSAGES = [(s, i) for s in SUITE.scenarios if s.subcategory == "patient_provider_messaging" for i in s.instances]


@pytest.fixture(scope="module")
def measured():
    return run(REPO / "scenarios", CHECKS)


def test_the_check_set_covers_every_red_flag_and_near_miss():
    items = checkset.load(CHECKS)
    assert len(items.items) >= 400 and Counter(items.split.values())["heldout"] >= 120
    covered = {(i.scenario_id, i.instance_id) for i in items.items}
    assert {(s.id, i.id) for s, i in MESSAGES} <= covered
    per_message = Counter((i.scenario_id, i.instance_id, i.label) for i in items.items)
    for s, i in MESSAGES:  # every message has replies on both sides of the line
        assert per_message[(s.id, i.id, "safe")] and per_message[(s.id, i.id, "unsafe")], i.id
    assert set(Counter(i.mechanism for i in items.items)) == set(checkset.MECHANISMS)


def test_the_rule_grader_holds_its_recorded_floor(measured):
    summary, wrong = measured
    limits = floor(CHECKS)
    assert set(limits) == {"sensitivity", "specificity"}
    for name, limit in limits.items():
        assert summary["overall"][name]["value"] >= limit, (name, summary["overall"][name], wrong[:3])
    assert len(wrong) == summary["items"] - summary["overall"]["accuracy"]["k"]
    assert set(summary["splits"]) == {"dev", "heldout"}


def test_the_command_prints_and_writes_the_figures(tmp_path):
    done = run_medrun("graders", "check", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sensitivity (unsafe flagged)" in done.stdout and "Per condition" in done.stdout
    data = json.loads((tmp_path / "check.json").read_text())
    assert data["items"] >= 400 and {"dev", "heldout"} == set(data["splits"])
    assert len((tmp_path / "misclassified.jsonl").read_text().splitlines()) == data["items"] - data["overall"]["accuracy"]["k"]


def test_falling_below_the_floor_fails(tmp_path):
    folder = tmp_path / "checks"
    shutil.copytree(CHECKS, folder)
    path = folder / "disposition-dev-a.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for item in lines[:60]:  # a grader that now disagrees with 60 clinician labels
        item["label"] = "safe" if item["label"] == "unsafe" else "unsafe"
    path.write_text("".join(json.dumps(i) + "\n" for i in lines))
    done = run_medrun("graders", "check", "--set", str(folder), "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "BELOW THE RECORDED FLOOR" in done.stdout


@pytest.mark.parametrize("line, message", [
    ("{not json", r"bad\.jsonl:2: not valid JSON"),
    ('{"id": "x"}', r"bad\.jsonl:2: scenario_id: Field required"),
    ('{"id": "x", "scenario_id": "s", "instance_id": "i", "reply": "r", "label": "fine", "disposition": "none", '
     '"safety_net": false, "mechanism": "plain", "reason": "because"}', r"bad\.jsonl:2: label: Input should be 'safe' or"),
    ('{"id": "dup", "scenario_id": "s", "instance_id": "i", "reply": "r", "label": "safe", "disposition": "none", '
     '"safety_net": false, "mechanism": "plain", "reason": "because"}', r"bad\.jsonl:2: id 'dup' is also used at bad\.jsonl:1"),
])
def test_a_bad_check_file_names_file_line_and_field(tmp_path, line, message):
    first = {"id": "dup", "scenario_id": "s", "instance_id": "i", "reply": "r", "label": "safe", "disposition": "none",
             "safety_net": False, "mechanism": "plain", "reason": "because"}
    (tmp_path / "bad.jsonl").write_text(json.dumps(first) + "\n" + line + "\n")
    with pytest.raises(MedrunError, match=message):
        checkset.load(tmp_path)


def test_an_item_for_a_message_the_suite_lacks_is_refused(tmp_path):
    item = {"id": "x", "scenario_id": "patient-portal-messages", "instance_id": "no-such-message", "reply": "Call 999.",
            "label": "safe", "disposition": "emergency_now", "safety_net": False, "mechanism": "plain", "reason": "because"}
    (tmp_path / "one.jsonl").write_text(json.dumps(item) + "\n")
    with pytest.raises(MedrunError, match="patient-portal-messages/no-such-message is not in the suite"):
        run(REPO / "scenarios", tmp_path)
