"""Commands that produce run folders: eval, score, rescore; and determinism."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from runner import paths
from runner.cli.app import app
from runner.cli.options import (
    BatchingOpt,
    BatchInvariantOpt,
    DeviceOpt,
    EnforceEagerOpt,
    EngineOpt,
    GpuMemoryOpt,
    HarmWeightsOpt,
    JudgeOpt,
    JudgeTriesOpt,
    LimitOpt,
    McScoringOpt,
    ModelOpt,
    OutOpt,
    QuietOpt,
    ReportOpt,
    RunArg,
    ScenarioOpt,
    SelfJudgeOpt,
    SubsetOpt,
    SuiteOpt,
    floats,
    ints,
    out,
)
from runner.errors import MedrunError
from runner.pipeline.config import DEFAULT_MODEL


def finish(folder: Path, write_report: bool, quiet: bool, counts_line: str) -> None:
    """Report (unless --no-report), then the terminal summary (unless --quiet)."""
    report = None
    if write_report:
        from runner.reports.report import report as write

        report = write(folder)[0]
    if quiet:
        out.print(f"run folder: {folder}")
        return
    from runner.cli.summary import print_run

    print_run(folder, report)
    out.print(f"{counts_line}\nrun folder: {folder}")


@app.command("eval")
def eval_cmd(
    model: ModelOpt = DEFAULT_MODEL,
    suite: SuiteOpt = paths.suite_dir(),
    scenario: ScenarioOpt = None,
    limit: LimitOpt = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated sampling seeds, one request per seed.")] = "0",
    temperature: Annotated[float, typer.Option(help="0 = greedy (default). Above 0 samples, seeded per request.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass when sampling.")] = 1.0,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    batch_tokens: Annotated[Optional[int], typer.Option(help="hf: token budget per batch (padded prompt + new tokens) x rows; "
                                                        "default: what a quarter of free memory holds, at most 65536.")] = None,
    max_batch_size: Annotated[int, typer.Option(help="hf: most requests in one batch.")] = 64,
    batching: BatchingOpt = "continuous",
    tensor_parallel_size: Annotated[Optional[int], typer.Option(help="vllm: GPUs per model (default: the card's).")] = None,
    gpu_memory_utilization: GpuMemoryOpt = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="vllm: context length (default: the card's max_context).")] = None,
    enforce_eager: EnforceEagerOpt = False,
    batch_invariant: BatchInvariantOpt = False,
    distributed_executor_backend: Annotated[Optional[str], typer.Option(help="vllm: ray (multi-node) or mp.")] = None,
    data_parallel: Annotated[int, typer.Option(help="Engine processes, one per GPU, each generating a share of the plan.")] = 1,
    out_dir: OutOpt = Path("runs"),
    cache: Annotated[Optional[Path], typer.Option(help="SQLite completion cache (default $MEDRUN_HOME/cache.sqlite).")] = None,
    harm_weights: HarmWeightsOpt = "0,1,2,5,10",
    subset: SubsetOpt = None,
    robustness: Annotated[Optional[bool], typer.Option(help="Run the perturbed twins (default: as the subset says).")] = None,
    mc_scoring: McScoringOpt = None,
    judge: JudgeOpt = None,
    judge_tries: JudgeTriesOpt = 2,
    allow_self_judge: SelfJudgeOpt = False,
    report: ReportOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Run the scenario suite on a model and write a scored, auditable run folder."""
    from runner.engines.base import EngineOptions
    from runner.pipeline.config import EvalConfig
    from runner.pipeline.evaluate import evaluate

    options = EngineOptions(device=device, batch_tokens=batch_tokens, max_batch_size=max_batch_size, batching=batching,
                            tensor_parallel_size=tensor_parallel_size, gpu_memory_utilization=gpu_memory_utilization,
                            max_model_len=max_model_len, enforce_eager=enforce_eager, batch_invariant=batch_invariant,
                            distributed_executor_backend=distributed_executor_backend)
    config = EvalConfig(model=model, suite=suite, scenarios=scenario, limit=limit, seeds=ints(seeds),
                        temperature=temperature, top_p=top_p, engine=engine, engine_options=options,
                        subset=subset, robustness=robustness, mc_scoring=mc_scoring, out=out_dir, cache=cache,
                        harm_weights=floats(harm_weights), data_parallel=data_parallel, quiet=quiet,
                        judges=judge or [], judge_tries=judge_tries, allow_self_judge=allow_self_judge)
    result = evaluate(config)
    counts, times = result.manifest["counts"], result.manifest["times"]
    finish(result.folder, report, quiet, f"{counts['requests']} requests: {counts['from_cache']} from cache, "
           f"{counts['to_generate']} generated ({counts['generated_tokens']} tokens) in {times['total_s']:.1f} s")


@app.command("score")
def score_cmd(
    completions: Annotated[Path, typer.Option(help="JSON lines: scenario_id, instance_id, text[, seed].")],
    label: Annotated[str, typer.Option(help="Name of the system that produced the answers.")] = "external",
    suite: SuiteOpt = paths.suite_dir(),
    scenario: ScenarioOpt = None,
    subset: SubsetOpt = "full",
    out_dir: OutOpt = Path("runs"),
    harm_weights: HarmWeightsOpt = "0,1,2,5,10",
    judge: JudgeOpt = None,
    judge_tries: JudgeTriesOpt = 2,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    cache: Annotated[Optional[Path], typer.Option(help="SQLite cache for the judges' answers (default $MEDRUN_HOME/cache.sqlite).")] = None,
    report: ReportOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Score answers produced elsewhere through the same scorers; writes the same run folder."""
    from runner.engines.base import EngineOptions
    from runner.pipeline.config import EvalConfig
    from runner.pipeline.external import score_external

    config = EvalConfig(suite=suite, scenarios=scenario, subset=subset, out=out_dir, harm_weights=floats(harm_weights),
                        judges=judge or [], judge_tries=judge_tries, engine=engine,
                        engine_options=EngineOptions(device=device), cache=cache, quiet=quiet)
    result = score_external(completions, config, label)
    c = result.manifest["counts"]
    finish(result.folder, report, quiet,
           f"{c['requests']} answers scored; {c['not_in_file']} suite requests had no line in the file")


@app.command("rescore")
def rescore_cmd(
    run: RunArg,
    suite: Annotated[Optional[Path], typer.Option("--suite", help="Suite to score against (default: the run's).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for the new run folder (default: beside RUN).")] = None,
    harm_weights: Annotated[Optional[str], typer.Option(help="Weights of severities 0-4 (default: the run's).")] = None,
    judge: JudgeOpt = None,
    judge_tries: JudgeTriesOpt = 2,
    allow_self_judge: SelfJudgeOpt = False,
    report: ReportOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Score a run's own completions again with the current scorers, into a new run folder (the model under
    test is not loaded; judges given with --judge are)."""
    from runner.pipeline.rescore import rescore

    result = rescore(run, suite, out_dir, floats(harm_weights) if harm_weights else None, judge, judge_tries,
                     allow_self_judge)
    c = result.manifest["counts"]
    skipped = "; ".join(f"{n} {why}" for why, n in c["not_rescored"].items()) or "none"
    finish(result.folder, report, quiet, f"{c['requests']} of {c['in_run']} answers rescored (left out: {skipped})")


@app.command("determinism")
def determinism_cmd(
    model: ModelOpt = DEFAULT_MODEL,
    suite: SuiteOpt = paths.suite_dir(),
    scenario: ScenarioOpt = None,
    subset: SubsetOpt = None,
    limit: LimitOpt = None,
    repeat: Annotated[int, typer.Option(help="Passes over the plan, each with another batch composition.")] = 3,
    one_at_a_time: Annotated[bool, typer.Option("--one-at-a-time", help="Add a pass of one request per call (no batch-mates).")] = False,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    batch_invariant: BatchInvariantOpt = False,
    batching: BatchingOpt = "continuous",
    mc_scoring: McScoringOpt = None,
    enforce_eager: EnforceEagerOpt = False,
    gpu_memory_utilization: GpuMemoryOpt = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the report here.")] = None,
) -> None:
    """Generate the plan several times (cache bypassed), each pass with other batch-mates, and report the
    share of completions identical in text and token ids, overall and per task kind."""
    from rich.table import Table

    from runner.engines.base import EngineOptions
    from runner.pipeline.config import EvalConfig
    from runner.pipeline.determinism import repeat_plan

    if repeat < 2:
        raise MedrunError("--repeat must be at least 2.")
    options = EngineOptions(device=device, batch_invariant=batch_invariant, batching=batching, enforce_eager=enforce_eager,
                            gpu_memory_utilization=gpu_memory_utilization)
    result = repeat_plan(EvalConfig(model=model, suite=suite, scenarios=scenario, subset=subset, limit=limit,
                                    engine=engine, engine_options=options, mc_scoring=mc_scoring), repeat, one_at_a_time)
    table = Table("task kind", "requests", "identical", "share", title="Identical text and token ids in every pass")
    for kind, part in result["per_task"].items():
        table.add_row(kind, str(part["requests"]), str(part["identical"]), f"{part['share_identical']:.1%}")
    out.print(table)
    out.print("passes: " + "; ".join(result["layouts"]))
    out.print(f"{result['identical']} of {result['requests']} completions byte-identical across {len(result['layouts'])} passes "
              f"({result['share_identical']:.1%}) with {result['engine']['engine']} on {result['engine']['device']}")
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))
