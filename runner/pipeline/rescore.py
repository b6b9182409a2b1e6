"""`medrun rescore RUN`: the run's own completions scored again with the current scorers and suite
files, into a new run folder; no model is loaded. A row is rescored only where the current suite
still asks exactly what the model was asked (same user message, system message and answer prefix,
so a multiple-choice run keeps its scoring mode);
the others are counted and named, never scored against a question the model did not see."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from runner.engines.base import Completion, Request
from runner.errors import MedrunError
from runner.pipeline.config import EvalConfig, check_config
from runner.pipeline.external import external_target
from runner.pipeline.judging import check_judges
from runner.pipeline.plan import Planned, load_selection, plan
from runner.pipeline.write import RunResult, write_run
from runner.runs import files
from runner.runs.folder import KEY, load_run
from runner.runs.manifest import base_manifest
from runner.suite.load import load_suite


def _asked_the_same(p: Planned, prompt: str, user: str) -> bool:
    return user == p.user and p.system in prompt and prompt.endswith(p.answer_prefix)


def _completion(row: dict) -> Completion:
    return Completion(row["key"], row["text"], int(row["prompt_tokens"]), int(row["completion_tokens"]),
                      row["finish_reason"], [tuple(x) for x in json.loads(row["first_token_logprobs"])],
                      float(row["seconds"]), json.loads(row.get("token_ids") or "[]"))


def rescore(run_path: Path, suite: Path | None = None, out: Path | None = None,
            harm_weights: tuple[float, ...] | None = None, judges: list[str] | None = None, judge_tries: int = 2,
            allow_self_judge: bool = False) -> RunResult:
    """`judges`: judge cards for this rescoring (the run's own judges are not asked again unless given)."""
    t0 = time.perf_counter()
    run = load_run(run_path)
    config = EvalConfig.from_json(run.manifest["config"])
    config = replace(config, suite=suite or Path(run.manifest["suite"]["root"]), out=out or run.path.parent,
                     harm_weights=harm_weights or config.harm_weights, quiet=True, judges=list(judges or []),
                     judge_tries=judge_tries, allow_self_judge=allow_self_judge)
    check_config(config)
    current = load_suite(config.suite)
    if config.scenarios:  # scenarios the run was asked for that the suite no longer has are counted below
        config = replace(config, scenarios=[s for s in config.scenarios if s in {x.id for x in current.scenarios}])
    config, selected = load_selection(config, current)
    stored = {tuple(r[k] for k in KEY): r for r in run.completions.to_dict("records")}
    planned, skipped = [], {"no longer in the suite": 0, "asked differently now": 0}
    by_id = {(p.scenario.id, p.instance.id, p.seed): p for p in plan(config, selected.scenarios, external_target("x"))}
    for key, row in stored.items():
        p = by_id.get(key)
        if p is None:
            skipped["no longer in the suite"] += 1
        elif not _asked_the_same(p, row["prompt"], row["user"]):
            skipped["asked differently now"] += 1
        else:
            planned.append(replace(p, request=Request(row["key"], row["prompt"], p.request.decoding)))
    if not planned:
        raise MedrunError(f"{run.path}: none of its {len(stored)} answers matches a question of the suite at "
                          f"{config.suite} ({', '.join(f'{v} {k}' for k, v in skipped.items() if v)}). Pass --suite "
                          "with the suite the run was made with.")
    completions = {row["key"]: _completion(row) for row in stored.values()}
    check_judges(config, run.manifest["model"].get("fingerprint"))
    folder = files.new_run_dir(config.out, f"{run.model}-rescored", selected.id)
    manifest = base_manifest(config.as_json(), selected, planned, run.manifest["model"])
    manifest.update({"engine": run.manifest.get("engine"), "cache": None,
                     "rescored_from": {"run": str(run.path), "scorer": run.manifest.get("scorer"),
                                       "medrun": run.manifest.get("medrun") or run.manifest.get("medrun_version")},
                     "counts": {"requests": len(planned), "in_run": len(stored),
                                "not_rescored": {k: v for k, v in skipped.items() if v}}})
    files.write_json(folder / "manifest.json", manifest)
    return write_run(folder, manifest, planned, completions, set(completions), selected, config, t0)
