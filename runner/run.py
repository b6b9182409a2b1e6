"""The pipeline, top to bottom: plan -> cache -> engine -> score -> write.

    card + suite -> plan (one request per instance x seed, prompts rendered by the engine)
      -> cache lookup -> engine.generate(every missing request at once), each completion
         committed to the cache as it arrives -> scorers -> tables -> run folder
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from runner import __version__, metrics, offline, paths, results, tasks
from runner.cache import Cache, request_key
from runner.cards import find_card
from runner.engines import Completion, Decoding, Request, make_engine
from runner.errors import MedrunError
from runner.suite import BaseInstance, Scenario, load_suite
from runner.weights import resolve


@dataclass
class EvalConfig:
    model: str = "smollm2-135m-instruct"
    suite: Path = field(default_factory=paths.suite_dir)
    scenarios: list[str] | None = None
    limit: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    temperature: float = 0.0
    top_p: float = 1.0
    engine: str = "hf"
    device: str = "auto"
    batch_tokens: int = 16384
    max_batch_size: int = 64
    out: Path = Path("runs")
    cache: Path | None = None  # default MEDRUN_HOME/cache.sqlite
    harm_weights: tuple[float, ...] = metrics.DEFAULT_HARM_WEIGHTS
    quiet: bool = False


@dataclass
class Planned:
    scenario: Scenario
    instance: BaseInstance
    seed: int
    request: Request


@dataclass
class RunResult:
    folder: Path
    summary: dict
    manifest: dict


def _check(config: EvalConfig) -> None:
    if config.temperature < 0 or not 0 < config.top_p <= 1:
        raise MedrunError("--temperature must be >= 0 and --top-p in (0, 1].")
    if config.temperature == 0 and len(config.seeds) > 1:
        raise MedrunError("several --seeds with greedy decoding would repeat identical requests; "
                          "set --temperature above 0 to sample, or pass one seed.")
    if config.limit is not None and config.limit < 1:
        raise MedrunError("--limit must be at least 1.")
    metrics.harm_weighted_error(pd.Series([0]), config.harm_weights)  # validates the weights


def plan(config: EvalConfig, scenarios: list[Scenario], engine, fingerprint: str, system_prefix: str | None
         ) -> list[Planned]:
    """One request per instance x seed. Greedy requests all use seed 0 (the seed does not matter)."""
    planned = []
    for scenario in scenarios:
        kind = tasks.get(scenario.task)
        system = "\n\n".join(s for s in (system_prefix, scenario.system or kind.SYSTEM) if s)
        for instance in scenario.instances[: config.limit]:
            prompt = engine.render([{"role": "system", "content": system},
                                    {"role": "user", "content": kind.render(instance)}]) + kind.ANSWER_PREFIX
            for seed in config.seeds:
                decoding = Decoding(max_tokens=scenario.max_tokens or kind.MAX_TOKENS,
                                    temperature=config.temperature, top_p=config.top_p,
                                    seed=seed if config.temperature > 0 else 0, top_logprobs=kind.TOP_LOGPROBS)
                request = Request(request_key(fingerprint, prompt, decoding), prompt, decoding)
                planned.append(Planned(scenario, instance, seed, request))
    return planned


def generate_missing(engine, cache: Cache, fingerprint: str, requests: list[Request], quiet: bool) -> int:
    """Generate what the cache lacks, committing each completion as it arrives. Returns tokens made."""
    tokens = 0
    with Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[tps]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), disable=quiet, transient=False) as bar:
        task = bar.add_task("generate", total=len(requests), tps="")
        start = time.perf_counter()
        for completion in engine.generate(requests):
            cache.put_many(fingerprint, [completion])
            tokens += completion.completion_tokens
            rate = tokens / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=1, tps=f"{rate:.1f} tok/s")
    return tokens


def score_rows(planned: list[Planned], completions: dict[str, Completion], harm_weights) -> pd.DataFrame:
    """One wide row per instance x seed: identifiers, tags, answer, severity and every metric."""
    rows = []
    for p in planned:
        kind = tasks.get(p.scenario.task)
        s = kind.score(p.instance, completions[p.request.key])
        rows.append({"scenario_id": p.scenario.id, "instance_id": p.instance.id, "seed": p.seed,
                     "task": p.scenario.task, "category": p.scenario.category,
                     "subcategory": p.scenario.subcategory, "risk": p.scenario.risk,
                     **{f"tag_{k}": v for k, v in p.instance.tags.model_dump().items()},
                     "expected": kind.expected(p.instance), "parsed": s.parsed,
                     "severity": s.severity, "flags": ",".join(s.flags), **s.metrics})
    wide = pd.DataFrame(rows)
    wide["harm_weighted_error"] = metrics.harm_weighted_error(wide["severity"], harm_weights)
    return wide


ID_COLUMNS = ["scenario_id", "instance_id", "seed", "task", "category", "subcategory", "risk",
              "tag_acuity", "tag_age_group", "tag_sex", "tag_setting", "expected", "parsed", "severity", "flags"]


def summarize(wide: pd.DataFrame, scenarios: list[Scenario]) -> dict:
    out = {}
    for scenario in scenarios:
        part = wide[wide["scenario_id"] == scenario.id]
        names = [c for c in part.columns if c not in ID_COLUMNS and part[c].notna().any()]
        out[scenario.id] = {"task": scenario.task, "category": scenario.category, "risk": scenario.risk,
                            "instances": int(part["instance_id"].nunique()), "rows": len(part),
                            "metrics": metrics.summarize(part, names)}
    return out


def evaluate(config: EvalConfig) -> RunResult:
    t0 = time.perf_counter()
    started = results.now()
    _check(config)
    card = find_card(config.model)
    suite = load_suite(config.suite, config.scenarios)
    weights = resolve(card)
    engine = make_engine(config.engine, card, weights, device=config.device,
                         batch_tokens=config.batch_tokens, max_batch_size=config.max_batch_size)
    t_prepared = time.perf_counter()

    planned = plan(config, suite.scenarios, engine, weights.fingerprint, card.system_prompt)
    cache = Cache(config.cache or paths.home() / "cache.sqlite")
    unique = {p.request.key: p.request for p in planned}
    cached = cache.get_many(unique)
    missing = [r for k, r in unique.items() if k not in cached]

    folder = results.new_run_dir(config.out, card.id, suite.id)
    manifest = {
        "medrun_version": __version__, "status": "running", "command": sys.argv,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "model": {"card": card.model_dump(mode="json"), "card_file": str(card.card_path),
                  "fingerprint": weights.fingerprint, "folder": str(weights.folder), "files": weights.files,
                  "source_file": str(weights.source_file) if weights.source_file else None,
                  "source_sha256": weights.source_sha256},
        "suite": {"id": suite.id, "version": suite.version, "root": str(suite.root), "sha256": suite.sha256,
                  "files": suite.files,
                  "scenarios": {s.id: {"version": s.version, "task": s.task,
                                       "instances": len(s.instances[: config.limit]),
                                       "decoding": next(p.request.decoding.as_dict() for p in planned
                                                        if p.scenario.id == s.id)}
                                for s in suite.scenarios}},
        "seeds": config.seeds, "harm_weights": list(config.harm_weights),
        "offline_env": offline.OFFLINE_ENV, "packages": results.package_versions(),
        "host": results.host(), "engine": engine.describe(), "cache": str(cache.path),
        "counts": {"requests": len(planned), "unique_requests": len(unique),
                   "from_cache": len(cached), "to_generate": len(missing)},
        "times": {"started": started},
    }
    results.write_json(folder / "manifest.json", manifest)

    t_gen = time.perf_counter()
    tokens = generate_missing(engine, cache, weights.fingerprint, missing, config.quiet) if missing else 0
    t_gen_end = time.perf_counter()
    completions = cache.get_many(unique)
    cache.close()
    lost = set(unique) - set(completions)
    if lost:
        raise MedrunError(f"{len(lost)} completions are missing from the cache after generation; rerun the command.")

    results.write_table(folder / "completions.parquet", pd.DataFrame([{
        "scenario_id": p.scenario.id, "instance_id": p.instance.id, "seed": p.seed, "key": p.request.key,
        "prompt": p.request.prompt, **{k: v for k, v in asdict(completions[p.request.key]).items() if k != "key"},
        "first_token_logprobs": json.dumps(completions[p.request.key].first_token_logprobs),
        "from_cache": p.request.key in cached} for p in planned]))
    wide = score_rows(planned, completions, config.harm_weights)
    long = wide.melt(id_vars=ID_COLUMNS, var_name="metric", value_name="value").dropna(subset=["value"])
    results.write_table(folder / "scores.parquet", long.reset_index(drop=True))
    summary = {"run": folder.name, "model": card.id, "fingerprint": weights.fingerprint,
               "suite": {"id": suite.id, "version": suite.version}, "scenarios": summarize(wide, suite.scenarios)}
    results.write_json(folder / "summary.json", summary)
    t_end = time.perf_counter()

    manifest["status"] = "complete"
    manifest["counts"]["generated_tokens"] = tokens
    manifest["times"].update({"finished": results.now(), "prepare_s": round(t_prepared - t0, 3),
                              "generate_s": round(t_gen_end - t_gen, 3), "score_write_s": round(t_end - t_gen_end, 3),
                              "total_s": round(t_end - t0, 3)})
    results.write_json(folder / "manifest.json", manifest)
    return RunResult(folder, summary, manifest)
