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
from runner.worker import config_from_json, config_json, shard_of

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_auto_engine_falls_back_to_transformers_without_a_gpu():
    name, why = choose_engine("auto")
    assert name == "hf" and why.startswith("auto: ")
    assert ("no CUDA GPU" in why) if HAS_VLLM else ("vLLM is not installed" in why)


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_asking_for_missing_vllm_says_what_to_do():
    with pytest.raises(MedrunError, match="vLLM is not installed.*--engine hf"):
        choose_engine("vllm")


def test_shards_cover_every_request_once_and_evenly():
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4000)]
    for n in (1, 2, 3, 8):
        shards = [shard_of(k, n) for k in keys]
        assert set(shards) == set(range(n))
        assert max(shards.count(s) for s in range(n)) < 1.15 * len(keys) / n
        assert shards == [shard_of(k, n) for k in keys]  # stable


def test_config_survives_the_trip_to_a_worker():
    from runner.engines.base import EngineOptions
    from runner.run import EvalConfig

    config = EvalConfig(scenarios=["a"], limit=3, seeds=[1, 2], temperature=0.5,
                        engine_options=EngineOptions(max_batch_size=4), data_parallel=2)
    assert config_from_json(config_json(config)) == config


def test_data_parallel_run_merges_into_one_run_folder(tmp_path):
    out, db = tmp_path / "runs", tmp_path / "cache.sqlite"
    result = run_medrun("eval", "--data-parallel", "2", "-s", "medication-safety-mc", "--limit", "4",
                        "--no-robustness", "--out", str(out), "--cache", str(db), "-q")
    assert result.returncode == 0, result.stderr[-3000:]
    folder = next(out.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["data_parallel"] == 2
    assert manifest["counts"]["to_generate"] == 4 and manifest["counts"]["generated_tokens"] > 0
    assert len(pd.read_parquet(folder / "completions.parquet")) == 4
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM completions").fetchone()[0] == 4
    assert not list(tmp_path.glob("medrun-dp-*"))  # worker specs and logs cleaned up


def test_determinism_command_reports_identical_share(tmp_path):
    report = tmp_path / "det.json"
    result = run_medrun("determinism", "--engine", "hf", "-s", "ed-triage-esi", "--limit", "3", "--subset", "full",
                        "--json", str(report))
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["requests"] >= 3 and data["repeat"] == 2
    assert data["share_identical"] == 1.0, data["differing_keys"]  # transformers on CPU: byte-identical
    assert "byte-identical" in result.stdout
