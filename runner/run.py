"""The pipeline, top to bottom: plan -> cache -> engine -> score -> write.

    card + suite -> plan (one request per instance x seed, robustness twins included)
      -> cache lookup -> engine.generate(every missing request at once), each completion
         committed to the cache as it arrives -> scorers + safety rules -> tables -> run folder

`score_external` enters the same pipeline after generation, with completions made elsewhere.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from runner import __version__, metrics, offline, paths, results, summary, tasks
from runner.cache import Cache, request_key
from runner.cards import ModelCard, find_card
from runner.engines import Completion, Decoding, Engine, EngineOptions, Request, choose_engine, make_engine
from runner.errors import MedrunError
from runner.perturb import ADULT_ONLY, PERTURBATIONS
from runner.suite import BaseInstance, Scenario, Suite, load_suite, sha256_file
from runner.weights import Weights, resolve
from runner.worker import run_shards

Render = Callable[[list[dict[str, str]]], str]


@dataclass
class EvalConfig:
    model: str = "smollm2-135m-instruct"
    suite: Path = field(default_factory=paths.suite_dir)
    scenarios: list[str] | None = None
    limit: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    temperature: float = 0.0
    top_p: float = 1.0
    engine: str = "auto"
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    subset: str | None = None  # a named subset from suite.yaml; None: the suite's default_subset
    robustness: bool | None = None  # generate the perturbed twins the scenarios ask for; None: the subset's
    out: Path = Path("runs")
    cache: Path | None = None  # default MEDRUN_HOME/cache.sqlite
    harm_weights: tuple[float, ...] = metrics.DEFAULT_HARM_WEIGHTS
    data_parallel: int = 1  # engine processes (one per GPU), each generating a shard of the plan
    quiet: bool = False


@dataclass
class Planned:
    scenario: Scenario
    instance: BaseInstance
    seed: int
    request: Request
    perturbation: str | None = None  # None for the clean instance
    twin_of: str | None = None       # the clean instance's id, for a perturbed twin
    user: str = ""                   # the user message, as clinician reviewers see it


@dataclass
class RunResult:
    folder: Path
    summary: dict
    manifest: dict


def check_config(config: EvalConfig) -> None:
    if config.temperature < 0 or not 0 < config.top_p <= 1:
        raise MedrunError("--temperature must be >= 0 and --top-p in (0, 1].")
    if config.temperature == 0 and len(config.seeds) > 1:
        raise MedrunError("several --seeds with greedy decoding would repeat identical requests; "
                          "set --temperature above 0 to sample, or pass one seed.")
    if config.limit is not None and config.limit < 1:
        raise MedrunError("--limit must be at least 1.")
    if config.data_parallel < 1:
        raise MedrunError("--data-parallel must be at least 1.")
    metrics.harm_weighted_error(pd.Series([0]), config.harm_weights)  # validates the weights


def load_selection(config: EvalConfig) -> tuple[EvalConfig, Suite]:
    """The suite and the config with its subset resolved (explicit options win over the subset's)."""
    suite = load_suite(config.suite)
    name, sub = suite.subset(config.subset)
    config = replace(config, subset=name, limit=config.limit if config.limit is not None else sub.limit,
                     scenarios=config.scenarios or sub.scenarios,
                     robustness=sub.robustness if config.robustness is None else config.robustness)
    return config, suite.select(config.scenarios)


def instances_with_twins(scenario: Scenario, limit: int | None, robustness: bool
                         ) -> list[tuple[BaseInstance, str | None, str | None]]:
    """(instance, perturbation, twin_of): each clean instance, then its perturbed twins."""
    text_field = tasks.option(tasks.get(scenario.task), "TEXT_FIELD")
    out = []
    for inst in scenario.instances[:limit]:
        out.append((inst, None, None))
        adult = inst.tags.age_group in ("adult", "older_adult")
        for name in scenario.robustness if robustness else []:
            if name in ADULT_ONLY and not adult:
                continue
            text = PERTURBATIONS[name](getattr(inst, text_field), inst.id)
            if text is not None:
                out.append((inst.model_copy(update={text_field: text, "id": f"{inst.id}--{name}"}), name, inst.id))
    return out


def plan(config: EvalConfig, scenarios: list[Scenario], render: Render, fingerprint: str,
         system_prefix: str | None) -> list[Planned]:
    """One request per instance x seed. Greedy requests all use seed 0 (the seed does not matter)."""
    planned = []
    for scenario in scenarios:
        kind = tasks.get(scenario.task)
        system = "\n\n".join(s for s in (system_prefix, scenario.system or kind.SYSTEM) if s)
        for instance, perturbation, twin_of in instances_with_twins(scenario, config.limit, config.robustness):
            user = kind.render(instance)
            prompt = render([{"role": "system", "content": system},
                             {"role": "user", "content": user}]) + tasks.option(kind, "ANSWER_PREFIX")
            for seed in config.seeds:
                decoding = Decoding(max_tokens=scenario.max_tokens or kind.MAX_TOKENS,
                                    temperature=config.temperature, top_p=config.top_p,
                                    seed=seed if config.temperature > 0 else 0,
                                    top_logprobs=tasks.option(kind, "TOP_LOGPROBS"))
                request = Request(request_key(fingerprint, prompt, decoding), prompt, decoding)
                planned.append(Planned(scenario, instance, seed, request, perturbation, twin_of, user))
    return planned


def generate_missing(engine, cache: Cache, fingerprint: str, requests: list[Request], quiet: bool) -> int:
    """Generate what the cache lacks, committing each completion as it arrives. Returns tokens made."""
    tokens = 0
    with Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[tps]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), disable=quiet, transient=False,
                  console=Console(stderr=True)) as bar:
        task = bar.add_task("generate", total=len(requests), tps="")
        start = time.perf_counter()
        for completion in engine.generate(requests):
            cache.put_many(fingerprint, [completion])
            tokens += completion.completion_tokens
            rate = tokens / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=1, tps=f"{rate:.1f} tok/s")
    return tokens


def score_one(p: Planned, completion: Completion) -> dict:
    """One wide row: identifiers, tags, answer, severity, flags and every metric, safety rules applied."""
    kind = tasks.get(p.scenario.task)
    s = kind.score(p.instance, completion)
    broken = p.instance.safety.broken(completion.text) if p.instance.safety else []
    severity = max([s.severity] + [r.severity for r in broken])
    safety_failure = float(bool(broken)) if p.instance.safety else None
    return {"scenario_id": p.scenario.id, "instance_id": p.instance.id, "seed": p.seed,
            "perturbation": p.perturbation, "twin_of": p.twin_of, "task": p.scenario.task,
            "category": p.scenario.category, "subcategory": p.scenario.subcategory, "risk": p.scenario.risk,
            **{f"tag_{k}": v for k, v in p.instance.tags.model_dump().items()},
            "expected": kind.expected(p.instance), "parsed": s.parsed, "severity": severity,
            "flags": "; ".join([f"safety: {r.id}" for r in broken] + s.flags),
            "safety_failure": safety_failure, "passed": tasks.passed(kind, s.metrics, safety_failure), **s.metrics}


def write_run(folder: Path, manifest: dict, planned: list[Planned], completions: dict[str, Completion],
              cached: set[str], suite: Suite, harm_weights, t0: float) -> RunResult:
    """Completions table, scores table, summary, final manifest."""
    t_score = time.perf_counter()
    results.write_table(folder / "completions.parquet", pd.DataFrame([{
        "scenario_id": p.scenario.id, "instance_id": p.instance.id, "seed": p.seed, "perturbation": p.perturbation,
        "key": p.request.key, "prompt": p.request.prompt, "user": p.user,
        **{k: v for k, v in asdict(completions[p.request.key]).items() if k not in ("key", "first_token_logprobs")},
        "first_token_logprobs": json.dumps(completions[p.request.key].first_token_logprobs),
        "from_cache": p.request.key in cached} for p in planned]))
    wide = pd.DataFrame([score_one(p, completions[p.request.key]) for p in planned])
    wide["harm_weighted_error"] = metrics.harm_weighted_error(wide["severity"], harm_weights)
    long = wide.melt(id_vars=summary.ID_COLUMNS, var_name="metric", value_name="value").dropna(subset=["value"])
    results.write_table(folder / "scores.parquet", long.reset_index(drop=True))
    summ = summary.build(wide, suite.scenarios, run=folder.name, model=manifest["model"]["id"],
                         fingerprint=manifest["model"]["fingerprint"], suite={"id": suite.id, "version": suite.version})
    results.write_json(folder / "summary.json", summ)
    t_end = time.perf_counter()
    manifest["status"] = "complete"
    manifest["times"].update({"finished": results.now(), "score_write_s": round(t_end - t_score, 3),
                              "total_s": round(t_end - t0, 3)})
    results.write_json(folder / "manifest.json", manifest)
    return RunResult(folder, summ, manifest)


def base_manifest(config: EvalConfig, suite: Suite, planned: list[Planned], model: dict) -> dict:
    return {
        "medrun_version": __version__, "status": "running", "command": sys.argv,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "model": model,
        "suite": {"id": suite.id, "version": suite.version, "root": str(suite.root), "sha256": suite.sha256,
                  "files": suite.files, "vocabularies": suite.vocabularies,
                  "scenarios": {s.id: {"version": s.version, "title": s.title, "task": s.task,
                                     "category": s.category, "subcategory": s.subcategory, "risk": s.risk,
                                     "file": suite.paths.get(s.id), "sha256": suite.files.get(suite.paths.get(s.id, "")),
                                     "robustness": s.robustness,
                                       "requests": sum(p.scenario.id == s.id for p in planned),
                                       "decoding": next((p.request.decoding.as_dict() for p in planned
                                                         if p.scenario.id == s.id), None)}
                                for s in suite.scenarios}},
        "seeds": config.seeds, "harm_weights": list(config.harm_weights),
        "offline_env": offline.OFFLINE_ENV, "packages": results.package_versions(), "host": results.host(),
        "times": {"started": results.now()},
    }


@dataclass
class Prepared:
    config: EvalConfig  # subset resolved
    card: ModelCard
    suite: Suite
    weights: Weights
    engine: Engine
    why: str  # why this engine

    def plan(self) -> list[Planned]:
        return plan(self.config, self.suite.scenarios, self.engine.render, self.weights.fingerprint,
                    self.card.system_prompt)


def prepare(config: EvalConfig) -> Prepared:
    """Validate, resolve the subset, the card, the weights and the engine (the model loads lazily)."""
    check_config(config)
    card = find_card(config.model)
    config, suite = load_selection(config)
    weights = resolve(card)
    engine_name, why = choose_engine(config.engine)
    if not config.quiet:
        print(f"engine: {why}; subset: {config.subset}", file=sys.stderr)
    return Prepared(config, card, suite, weights, make_engine(engine_name, card, weights, config.engine_options), why)


def evaluate(config: EvalConfig) -> RunResult:
    t0 = time.perf_counter()
    prep = prepare(config)
    config, card, suite, weights, engine, why = (prep.config, prep.card, prep.suite, prep.weights, prep.engine,
                                                 prep.why)
    t_prepared = time.perf_counter()

    planned = prep.plan()
    cache = Cache(config.cache or paths.home() / "cache.sqlite")
    unique = {p.request.key: p.request for p in planned}
    cached = set(cache.get_many(unique))
    missing = [r for k, r in unique.items() if k not in cached]

    folder = results.new_run_dir(config.out, card.id, suite.id)
    manifest = base_manifest(config, suite, planned, {
        "id": card.id, "card": card.model_dump(mode="json"), "card_file": str(card.card_path),
        "card_sha256": sha256_file(card.card_path), "fingerprint": weights.fingerprint,
        "folder": str(weights.folder), "files": weights.files,
        "source_file": str(weights.source_file) if weights.source_file else None,
        "source_sha256": weights.source_sha256})
    manifest.update({"engine": {**engine.describe(), "chosen": why}, "cache": str(cache.path),
                     "counts": {"requests": len(planned), "unique_requests": len(unique),
                                "from_cache": len(cached), "to_generate": len(missing)}})
    manifest["times"]["prepare_s"] = round(t_prepared - t0, 3)
    results.write_json(folder / "manifest.json", manifest)

    t_gen = time.perf_counter()
    if missing and config.data_parallel > 1:
        cache.close()
        run_shards(config, missing, cache.path, config.data_parallel, config.quiet)
        cache = Cache(cache.path)
        fresh = cache.get_many([r.key for r in missing]).values()
        tokens = sum(c.completion_tokens for c in fresh)
    else:
        tokens = generate_missing(engine, cache, weights.fingerprint, missing, config.quiet) if missing else 0
    manifest["counts"]["generated_tokens"] = tokens
    manifest["times"]["generate_s"] = round(time.perf_counter() - t_gen, 3)
    completions = cache.get_many(unique)
    cache.close()
    if len(completions) != len(unique):
        raise MedrunError(f"{len(unique) - len(completions)} completions are missing from the cache after "
                          "generation; rerun the same command to generate them.")
    return write_run(folder, manifest, planned, completions, cached, suite, config.harm_weights, t0)


def _plain(messages: list[dict[str, str]]) -> str:
    return "\n\n".join(m["content"] for m in messages)


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


def score_external(completions_file: Path, config: EvalConfig, label: str) -> RunResult:
    """Score answers produced elsewhere through the same scorers, into the same kind of run folder."""
    t0 = time.perf_counter()
    check_config(config)
    config, suite = load_selection(config)
    given = read_completions(completions_file)
    planned_all = plan(config, suite.scenarios, _plain, f"external:{label}", None)
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
    folder = results.new_run_dir(config.out, label, suite.id)
    manifest = base_manifest(config, suite, planned, {
        "id": label, "external": True, "fingerprint": f"external:{label}",
        "completions_file": str(completions_file), "completions_sha256": sha256_file(completions_file)})
    manifest["counts"] = {"requests": len(planned), "suite_requests": len(planned_all),
                          "not_in_file": len(planned_all) - len(planned)}
    results.write_json(folder / "manifest.json", manifest)
    return write_run(folder, manifest, planned, completions, set(), suite, config.harm_weights, t0)
