"""The end of every pipeline (eval, score, rescore): completions and scores tables, summary, final
manifest, each written atomically into the run folder."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from runner.engines.base import Completion
from runner.graders.check import measured
from runner.pipeline.config import EvalConfig
from runner.pipeline.judging import judge_run
from runner.pipeline.plan import Planned
from runner.pipeline.score import score_rows
from runner.runs import files, summary
from runner.suite.load import Suite


@dataclass
class RunResult:
    folder: Path
    summary: dict
    manifest: dict


def completions_table(planned: list[Planned], completions: dict[str, Completion], cached: set[str]) -> pd.DataFrame:
    def row(p: Planned) -> dict:
        c = completions[p.request.key]
        return {"scenario_id": p.scenario.id, "instance_id": p.instance.id, "seed": p.seed,
                "perturbation": p.perturbation, "key": p.request.key, "prompt": p.request.prompt, "user": p.user,
                **{k: v for k, v in asdict(c).items() if k not in ("key", "first_token_logprobs", "token_ids")},
                "first_token_logprobs": json.dumps(c.first_token_logprobs), "token_ids": json.dumps(c.token_ids),
                "from_cache": p.request.key in cached}
    return pd.DataFrame([row(p) for p in planned])


def write_run(folder: Path, manifest: dict, planned: list[Planned], completions: dict[str, Completion],
              cached: set[str], suite: Suite, config: EvalConfig, t0: float) -> RunResult:
    """Completions table; the judges' work, where judges are given; scores table, summary, final manifest
    (status complete)."""
    files.write_table(folder / "completions.parquet", completions_table(planned, completions, cached))
    jury = judge_run(config, planned, completions, manifest["model"].get("fingerprint"))
    if jury is not None:
        files.write_table(folder / "judgments.parquet", jury.judgments)
        files.write_table(folder / "jury.parquet", jury.verdicts)
        manifest["judges"] = {"judges": jury.summary["judges"], "self_judged": jury.summary["self_judged"],
                              "allow_self_judge": config.allow_self_judge, "tries": config.judge_tries}
        manifest["times"]["judge_s"] = jury.summary["seconds"]
    t_score = time.perf_counter()
    wide = score_rows(planned, completions, config.harm_weights, jury.rows if jury else None)
    long = wide.melt(id_vars=summary.ID_COLUMNS, var_name="metric", value_name="value").dropna(subset=["value"])
    files.write_table(folder / "scores.parquet", long.reset_index(drop=True))
    summ = summary.build(wide, suite.scenarios, run=folder.name, model=manifest["model"]["id"],
                         fingerprint=manifest["model"]["fingerprint"], suite={"id": suite.id, "version": suite.version})
    if jury is not None:
        summ["judges"] = jury.summary
    files.write_json(folder / "summary.json", summ)
    manifest["grader"] = measured(suite.root)  # how far the safety verdicts can be trusted, measured
    t_end = time.perf_counter()
    manifest["status"] = "complete"
    manifest["times"].update({"finished": files.now(), "score_write_s": round(t_end - t_score, 3),
                              "total_s": round(t_end - t0, 3)})
    files.write_json(folder / "manifest.json", manifest)
    return RunResult(folder, summ, manifest)
