"""`medrun score`: answers produced elsewhere (JSON lines) enter the pipeline after generation and go
through the same scorers and writers as `medrun eval`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from runner.engines.base import Completion
from runner.errors import MedrunError
from runner.hashing import sha256_file
from runner.pipeline.config import EvalConfig, check_config
from runner.pipeline.judging import check_judges
from runner.pipeline.plan import Target, load_selection, plain, plan
from runner.pipeline.write import RunResult, write_run
from runner.runs import files
from runner.runs.manifest import base_manifest


def read_completions(path: Path) -> dict[tuple[str, str, int], dict]:
    """JSON lines {scenario_id, instance_id, text[, seed][, first_token_logprobs]}, keyed by id and seed."""
    rows: dict[tuple[str, str, int], dict] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise MedrunError(f"{path}: cannot read the completions file: {e.strerror}.") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise MedrunError(f"{path}:{n}: not valid JSON ({e.msg}). Each line must be one JSON object.") from None
        missing = [k for k in ("scenario_id", "instance_id", "text") if not isinstance(row.get(k), str)]
        if missing:
            raise MedrunError(f"{path}:{n}: missing or non-string field(s) {', '.join(missing)}. Each line needs "
                              '{"scenario_id": ..., "instance_id": ..., "text": ...}.')
        key = (row["scenario_id"], row["instance_id"], int(row.get("seed", 0)))
        if key in rows:
            raise MedrunError(f"{path}:{n}: a second completion for {key[0]}/{key[1]} seed {key[2]}.")
        rows[key] = row
    return rows


def external_target(label: str) -> Target:
    return Target(plain, f"external:{label}", {"engine": "external", "label": label})


def score_external(completions_file: Path, config: EvalConfig, label: str) -> RunResult:
    """Score answers produced elsewhere through the same scorers, into the same kind of run folder."""
    t0 = time.perf_counter()
    check_config(config)
    config, suite = load_selection(config)
    given = read_completions(completions_file)
    planned_all = plan(config, suite.scenarios, external_target(label))
    by_id = {(p.scenario.id, p.instance.id, p.seed): p for p in planned_all}
    unknown = sorted(set(given) - set(by_id))
    if unknown:
        s, i, seed = unknown[0]
        raise MedrunError(f"{completions_file}: {len(unknown)} line(s) name instances this suite does not have, "
                          f"e.g. {s}/{i} seed {seed}. Check --suite and the ids (twins end in --typos etc.).")
    planned = [p for k, p in by_id.items() if k in given]
    if not planned:
        raise MedrunError(f"{completions_file}: no lines match the suite's instances.")
    completions = {p.request.key: Completion(
        p.request.key, given[k]["text"], 0, 0, "external",
        [tuple(x) for x in given[k].get("first_token_logprobs", [])]) for k, p in by_id.items() if k in given}
    check_judges(config, f"external:{label}")
    folder = files.new_run_dir(config.out, label, suite.id)
    manifest = base_manifest(config.as_json(), suite, planned, {
        "id": label, "external": True, "fingerprint": f"external:{label}",
        "completions_file": str(completions_file), "completions_sha256": sha256_file(completions_file)})
    manifest["counts"] = {"requests": len(planned), "suite_requests": len(planned_all),
                          "not_in_file": len(planned_all) - len(planned)}
    files.write_json(folder / "manifest.json", manifest)
    return write_run(folder, manifest, planned, completions, set(), suite, config, t0)
