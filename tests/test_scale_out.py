"""Engine choice, data-parallel sharding and merging (real worker processes on the CPU), determinism."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sqlite3

import pandas as pd
import pytest
from conftest import run_medrun

from runner.engines import choose_engine
from runner.errors import MedrunError
from runner.pipeline.workers import deal

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_auto_engine_falls_back_to_transformers_without_a_gpu():
    name, why = choose_engine("auto")
    assert name == "hf" and why.startswith("auto: ")
    assert ("no CUDA GPU" in why) if HAS_VLLM else ("vLLM is not installed" in why)


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_asking_for_missing_vllm_says_what_to_do():
    with pytest.raises(MedrunError, match="vLLM is not installed.*--engine hf"):
        choose_engine("vllm")


def test_shares_cover_every_request_once_and_evenly():
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1001)]
    for n in (1, 2, 3, 8):
        shares = deal(keys, n)
        assert len(shares) == n and sorted(k for s in shares for k in s) == sorted(keys)
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert deal(keys[:3], 8)[3:] == [[]] * 5  # more workers than requests: the rest idle, nothing lost


def test_config_survives_the_trip_to_a_worker():
    from runner.engines.base import EngineOptions
    from runner.pipeline.config import EvalConfig

    config = EvalConfig(scenarios=["a"], limit=3, seeds=[1, 2], temperature=0.5,
                        engine_options=EngineOptions(max_batch_size=4), data_parallel=2)
    assert EvalConfig.from_json(json.loads(json.dumps(config.as_json()))) == config


def test_data_parallel_run_merges_into_one_run_folder(tmp_path):
    out, db = tmp_path / "runs", tmp_path / "cache.sqlite"
    result = run_medrun("eval", "--data-parallel", "2", "-s", "medication-safety-mc", "--limit", "4",
                        "--no-robustness", "--out", str(out), "--cache", str(db), "-q")
    assert result.returncode == 0, result.stderr[-3000:]
    folder = next(out.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["data_parallel"] == 2
    assert manifest["counts"]["to_generate"] == 4 and manifest["counts"]["generated_tokens"] > 0
    # each worker generated its own share, and together exactly what was missing
    workers = manifest["counts"]["workers"]
    assert [w["worker"] for w in workers] == [0, 1]
    assert all(w["generated"] == w["assigned"] == 2 and w["tokens"] > 0 for w in workers), workers
    assert len(pd.read_parquet(folder / "completions.parquet")) == 4
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM completions").fetchone()[0] == 4
    assert not list(tmp_path.glob("medrun-dp-*"))  # worker specs and logs cleaned up


def test_determinism_varies_batch_mates_and_reports_per_task_kind(tmp_path):
    report = tmp_path / "det.json"
    result = run_medrun("determinism", "--engine", "hf", "-s", "ed-triage-esi", "-s", "medication-safety-mc",
                        "-s", "bedside-calculations", "--limit", "3", "--subset", "full", "--repeat", "3",
                        "--json", str(report))
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["repeat"] == 3 and len(data["layouts"]) == 3 and "shuffled" in data["layouts"][2]
    assert set(data["per_task"]) == {"ed_triage", "multiple_choice", "calculation"}
    assert sum(p["requests"] for p in data["per_task"].values()) == data["requests"] >= 9
    # transformers on CPU, float32, greedy: identical text and token ids whatever the batch-mates
    assert data["share_identical"] == 1.0, data["differing_keys"]
    assert "byte-identical" in result.stdout and "calculation" in result.stdout
