"""`mc_scoring: logprob`: multiple choice scored from each option letter's probability in one forward pass,
selectable per scenario (suite file) or per run (--mc-scoring), end to end on the real model."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest
from conftest import REPO

from runner.errors import MedrunError
from runner.pipeline.config import EvalConfig, check_config
from runner.pipeline.evaluate import evaluate
from runner.pipeline.plan import Target, plan
from runner.pipeline.rescore import rescore
from runner.runs.folder import load_run
from runner.suite.load import load_scenario, load_suite

MC = "medication-safety-mc"
MC_FILE = REPO / "scenarios" / "clinical_decision_support" / "medication_safety_mc.yaml"
TRIAGE_FILE = REPO / "scenarios" / "clinical_decision_support" / "ed_triage_esi.yaml"
TARGET = Target(lambda messages: "<chat>" + messages[-1]["content"] + "</chat>", "fp", {"engine": "t"})


def planned(config: EvalConfig, root=REPO / "scenarios"):
    suite = load_suite(root)
    return plan(config, [s for s in suite.scenarios if s.id in (MC, "ed-triage-esi")], TARGET)


def test_run_level_logprob_scores_every_option_letter_after_the_answer_prefix():
    for p in planned(EvalConfig(limit=2, robustness=False, mc_scoring="logprob")):
        d = p.request.decoding
        if p.scenario.task == "multiple_choice":
            assert d.choices == tuple(f" {k}" for k in p.instance.options) and d.max_tokens == 1
            assert p.request.prompt.endswith("</chat>Answer:") and p.answer_prefix == "Answer:"
            assert d.top_logprobs == 0
        else:  # other task kinds always generate
            assert d.choices == () and d.max_tokens > 1


def test_generate_stays_the_default_and_keys_differ_between_modes():
    generate = {(p.scenario.id, p.instance.id): p for p in planned(EvalConfig(limit=2, robustness=False))}
    logprob = {(p.scenario.id, p.instance.id): p for p in planned(EvalConfig(limit=2, robustness=False, mc_scoring="logprob"))}
    for key, p in generate.items():
        assert p.request.decoding.choices == ()
        if key[0] == MC:
            assert p.request.key != logprob[key].request.key
        else:
            assert p.request.key == logprob[key].request.key


def test_a_scenario_asks_for_logprob_and_the_run_can_override_it(tmp_path):
    root = tmp_path / "suite"
    shutil.copytree(REPO / "scenarios", root, ignore=shutil.ignore_patterns("grader_checks"))
    path = root / MC_FILE.relative_to(REPO / "scenarios")
    path.write_text(path.read_text().replace("\ninstances:", "\nmc_scoring: logprob\ninstances:", 1))
    by_scenario = planned(EvalConfig(limit=1, robustness=False, suite=root), root)
    assert [p.request.decoding.choices != () for p in by_scenario if p.scenario.id == MC] == [True]
    overridden = planned(EvalConfig(limit=1, robustness=False, suite=root, mc_scoring="generate"), root)
    assert [p.request.decoding.choices for p in overridden if p.scenario.id == MC] == [()]


def test_mc_scoring_on_a_scenario_that_generates_names_the_file_and_line(tmp_path):
    text = TRIAGE_FILE.read_text().replace("\ninstances:", "\nmc_scoring: logprob\ninstances:", 1)
    path = tmp_path / "triage.yaml"
    path.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("mc_scoring"))
    with pytest.raises(MedrunError, match=rf"triage\.yaml:{line}: mc_scoring: task kind 'ed_triage' generates"):
        load_scenario(path)
    bad = tmp_path / "mc.yaml"
    bad.write_text(MC_FILE.read_text().replace("\ninstances:", "\nmc_scoring: loglik\ninstances:", 1))
    with pytest.raises(MedrunError, match=r"mc\.yaml:\d+: mc_scoring: Input should be 'generate' or 'logprob'"):
        load_scenario(bad)


def test_bad_run_level_mode_is_refused():
    with pytest.raises(MedrunError, match="--mc-scoring 'loglik': choose generate or logprob"):
        check_config(EvalConfig(mc_scoring="loglik"))


@pytest.fixture(scope="module")
def logprob_run(tmp_path_factory, weights):
    out = tmp_path_factory.mktemp("mc")
    return evaluate(EvalConfig(scenarios=[MC], limit=4, robustness=False, mc_scoring="logprob", out=out,
                               cache=out / "cache.sqlite", engine="hf", quiet=True)).folder


def test_logprob_run_scores_the_most_probable_letter_with_exact_option_probabilities(logprob_run):
    run = load_run(logprob_run)
    completions = run.completions.set_index("instance_id")
    assert set(completions["finish_reason"]) == {"choice"} and (completions["completion_tokens"] == 0).all()
    scores = run.scores.set_index("instance_id")
    for instance_id, row in completions.iterrows():
        lps = dict(tuple(x) for x in json.loads(row["first_token_logprobs"]))
        assert list(lps) == [" A", " B", " C", " D"][: len(lps)] and len(lps) >= 2
        best = max(lps, key=lps.get).strip()
        assert row["text"] == best
        probs = {k.strip(): math.exp(v) for k, v in lps.items()}
        total = sum(probs.values())
        assert scores.loc[instance_id, "confidence"] == pytest.approx(probs[best] / total, abs=1e-6)
        assert scores.loc[instance_id, "unparseable"] == 0.0
    assert run.manifest["config"]["mc_scoring"] == "logprob"
    assert run.manifest["suite"]["scenarios"][MC]["decoding"]["choices"]


def test_a_logprob_run_rescores_to_the_same_scores(logprob_run, tmp_path):
    again = rescore(logprob_run, out=tmp_path)
    assert again.manifest["counts"]["not_rescored"] == {}
    metrics = ["accuracy", "confidence", "prob_correct", "brier", "passed"]
    pd.testing.assert_frame_equal(load_run(logprob_run).scores[metrics], load_run(again.folder).scores[metrics])
