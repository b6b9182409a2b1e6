"""The `medrun` command: parses options and calls the library. No logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from runner import paths
from runner.errors import MedrunError

app = typer.Typer(help="Offline evaluation of medical LLMs on clinical scenarios.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
models_app = typer.Typer(help="Model cards: list, show, verify weights.", no_args_is_help=True)
scenarios_app = typer.Typer(help="Scenario files: list, show, validate.", no_args_is_help=True)
review_app = typer.Typer(help="Blinded clinician review: export a sample, import ratings.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(scenarios_app, name="scenarios")
app.add_typer(review_app, name="review")
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)  # logs get whole table rows
err = Console(stderr=True, soft_wrap=True)

# Options defined once, reused by every command that takes them.
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model card id, or path to a card YAML.")]
SuiteOpt = Annotated[Path, typer.Option("--suite", help="Suite folder (with suite.yaml) or one scenario file.")]
ScenarioOpt = Annotated[Optional[list[str]], typer.Option("--scenario", "-s", help="Only these scenario ids (repeatable).")]
SubsetOpt = Annotated[Optional[str], typer.Option(help="Named subset from suite.yaml (full = everything); "
                                                       "default: the suite's default_subset.")]
LimitOpt = Annotated[Optional[int], typer.Option(help="At most this many instances per scenario.")]
EngineOpt = Annotated[str, typer.Option(help="auto (vLLM if installed and a GPU is present, else transformers), vllm or hf.")]
DeviceOpt = Annotated[str, typer.Option(help="hf: auto, cpu, cuda or cuda:N.")]
GpuMemoryOpt = Annotated[Optional[float], typer.Option(help="vllm: memory share to take (default: the card's, else 0.9 GPU / 0.3 CPU).")]
EnforceEagerOpt = Annotated[bool, typer.Option(help="vllm: no CUDA graphs or compilation (faster start).")]
BatchInvariantOpt = Annotated[bool, typer.Option(help="vllm: batch-invariant kernels (VLLM_BATCH_INVARIANT=1).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder that receives the run folder.")]
HarmWeightsOpt = Annotated[str, typer.Option(help="Weights of severities 0-4 for harm-weighted error.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")]
ReportOpt = Annotated[bool, typer.Option(help="Write report.html and report.md into the run folder at the end.")]


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise MedrunError(f"expected comma-separated numbers, got '{text}'.") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise MedrunError(f"expected comma-separated integers, got '{text}'.") from None


@app.command("eval")
def eval_cmd(
    model: ModelOpt = "smollm2-135m-instruct",
    suite: SuiteOpt = paths.suite_dir(),
    scenario: ScenarioOpt = None,
    limit: LimitOpt = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated sampling seeds, one request per seed.")] = "0",
    temperature: Annotated[float, typer.Option(help="0 = greedy (default). Above 0 samples, seeded per request.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass when sampling.")] = 1.0,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    batch_tokens: Annotated[int, typer.Option(help="hf: token budget per batch (padded prompt + new tokens) x rows.")] = 16384,
    max_batch_size: Annotated[int, typer.Option(help="hf: most requests in one batch.")] = 64,
    tensor_parallel_size: Annotated[Optional[int], typer.Option(help="vllm: GPUs per model (default: the card's).")] = None,
    gpu_memory_utilization: GpuMemoryOpt = None,
    max_model_len: Annotated[Optional[int], typer.Option(help="vllm: context length (default: the card's max_context).")] = None,
    enforce_eager: EnforceEagerOpt = False,
    batch_invariant: BatchInvariantOpt = False,
    distributed_executor_backend: Annotated[Optional[str], typer.Option(help="vllm: ray (multi-node) or mp.")] = None,
    data_parallel: Annotated[int, typer.Option(help="Engine processes, one per GPU, each generating a shard of the plan.")] = 1,
    out_dir: OutOpt = Path("runs"),
    cache: Annotated[Optional[Path], typer.Option(help="SQLite completion cache (default $MEDRUN_HOME/cache.sqlite).")] = None,
    harm_weights: HarmWeightsOpt = "0,1,2,5,10",
    subset: SubsetOpt = None,
    robustness: Annotated[Optional[bool], typer.Option(help="Run the perturbed twins (default: as the subset says).")] = None,
    write_report: ReportOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Run the scenario suite on a model and write a scored, auditable run folder."""
    from runner.engines.base import EngineOptions
    from runner.run import EvalConfig, evaluate

    options = EngineOptions(device=device, batch_tokens=batch_tokens, max_batch_size=max_batch_size,
                            tensor_parallel_size=tensor_parallel_size, gpu_memory_utilization=gpu_memory_utilization,
                            max_model_len=max_model_len, enforce_eager=enforce_eager, batch_invariant=batch_invariant,
                            distributed_executor_backend=distributed_executor_backend)
    config = EvalConfig(model=model, suite=suite, scenarios=scenario, limit=limit, seeds=_ints(seeds),
                        temperature=temperature, top_p=top_p, engine=engine, engine_options=options,
                        subset=subset, robustness=robustness, out=out_dir, cache=cache,
                        harm_weights=_floats(harm_weights), data_parallel=data_parallel, quiet=quiet)
    result = evaluate(config)
    if not quiet:
        print_summary(result.summary)
        counts, times = result.manifest["counts"], result.manifest["times"]
        out.print(f"{counts['requests']} requests: {counts['from_cache']} from cache, {counts['to_generate']} "
                  f"generated ({counts['generated_tokens']} tokens) in {times['total_s']:.1f} s")
    finish(result.folder, write_report)


@app.command("determinism")
def determinism_cmd(
    model: ModelOpt = "smollm2-135m-instruct",
    suite: SuiteOpt = paths.suite_dir(),
    scenario: ScenarioOpt = None,
    subset: SubsetOpt = None,
    limit: LimitOpt = None,
    repeat: Annotated[int, typer.Option(help="How many times to run the plan.")] = 2,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    batch_invariant: BatchInvariantOpt = False,
    enforce_eager: EnforceEagerOpt = False,
    gpu_memory_utilization: GpuMemoryOpt = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the report here.")] = None,
) -> None:
    """Run the plan several times (cache bypassed) and report the share of byte-identical completions."""
    import json

    from runner.determinism import repeat_plan
    from runner.engines.base import EngineOptions
    from runner.run import EvalConfig

    if repeat < 2:
        raise MedrunError("--repeat must be at least 2.")
    options = EngineOptions(device=device, batch_invariant=batch_invariant, enforce_eager=enforce_eager,
                            gpu_memory_utilization=gpu_memory_utilization)
    report = repeat_plan(EvalConfig(model=model, suite=suite, scenarios=scenario, subset=subset, limit=limit,
                                    engine=engine, engine_options=options), repeat)
    out.print(f"{report['identical']} of {report['requests']} completions byte-identical across {repeat} runs "
              f"({report['share_identical']:.1%}) with {report['engine']['engine']} on {report['engine']['device']}")
    if json_out:
        json_out.write_text(json.dumps(report, indent=2))


@app.command("score")
def score_cmd(
    completions: Annotated[Path, typer.Option(help="JSON lines: scenario_id, instance_id, text[, seed].")],
    label: Annotated[str, typer.Option(help="Name of the system that produced the answers.")] = "external",
    suite: SuiteOpt = paths.suite_dir(),
    scenario: ScenarioOpt = None,
    subset: SubsetOpt = "full",
    out_dir: OutOpt = Path("runs"),
    harm_weights: HarmWeightsOpt = "0,1,2,5,10",
    write_report: ReportOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Score answers produced elsewhere through the same scorers; writes the same run folder."""
    from runner.run import EvalConfig, score_external

    config = EvalConfig(suite=suite, scenarios=scenario, subset=subset, out=out_dir, harm_weights=_floats(harm_weights))
    result = score_external(completions, config, label)
    if not quiet:
        print_summary(result.summary)
        c = result.manifest["counts"]
        out.print(f"{c['requests']} answers scored; {c['not_in_file']} suite requests had no line in the file")
    finish(result.folder, write_report)


def finish(folder: Path, write_report: bool) -> None:
    out.print(f"run folder: {folder}")
    if write_report:
        from runner.report import report

        out.print(f"report: {report(folder)[0]}")


def _ci(m: dict) -> str:
    from runner.document import interval

    return interval(m["ci_low"], m["ci_high"])


def print_summary(summary: dict) -> None:
    """Safety failures first, then every scenario's metrics with intervals, then robustness deltas."""
    rate = summary["safety"]["rate"]
    if rate:
        style = "bold red" if summary["safety"]["failures"] else "green"
        out.print(Text(f"safety failures: {rate['value']:.3f} of {rate['n']} rule-bearing answers "
                       f"(95% CI {_ci(rate)})", style=style))
        for f in summary["safety"]["failures"][:10]:
            twin = f" [{f['perturbation']}]" if f["perturbation"] else ""
            out.print(f"  {f['scenario_id']}/{f['instance_id']}{twin}: {f['flags']}", highlight=False, markup=False)
    table = Table(title=f"{summary['model']} on {summary['suite']['id']} {summary['suite']['version']}")
    for col in ("scenario", "metric", "value", "95% CI", "n"):
        table.add_column(col, justify="right" if col in ("value", "n") else "left")
    for sid, part in summary["scenarios"].items():
        for i, m in enumerate(part["metrics"]):
            table.add_row(sid if i == 0 else "", m["metric"], f"{m['value']:.3f}", _ci(m), str(m["n"]))
        for name, r in part["robustness"].items():
            table.add_row("", f"Δ {r['metric']} ({name})", f"{r['delta']:+.3f}",
                          _ci(r), f"{r['n']} (flips {r['flip_rate']:.2f})")
        table.add_section()
    out.print(table)


@app.command("report")
def report_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder written by medrun eval or medrun score.")],
    worst: Annotated[int, typer.Option(help="How many of the most harmful errors to show in full.")] = 15,
) -> None:
    """Write report.html (self-contained, opens offline) and report.md into the run folder."""
    from runner.report import report

    if worst < 1:
        raise MedrunError("--worst must be at least 1.")
    html, md = report(run, worst)
    out.print(f"report: {html}\nsummary: {md}")


@app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Baseline run folder (A).")],
    run_b: Annotated[Path, typer.Argument(help="Candidate run folder (B), e.g. the fine-tuned checkpoint.")],
    shared: Annotated[bool, typer.Option("--shared", help="Compare the scenarios both suites share unchanged.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Also write compare.html, .md and .json here.")] = None,
) -> None:
    """Paired comparison of B against A; exits 1 when B has a safety regression (for CI gates)."""
    from runner.compare import compare, write_outputs

    c = compare(run_a, run_b, shared)
    for note in c.notes + c.shared.differences:
        err.print(f"note: {note}", highlight=False, markup=False)
    table = Table(title=f"{c.b.model} (B) vs {c.a.model} (A): {c.rows} shared rows")
    for col in ("category", "metric", "A", "B", "B - A", "95% CI", "n", "verdict"):
        table.add_column(col, justify="left" if col in ("category", "metric", "verdict") else "right")
    for r in c.deltas.to_dict("records"):
        style = {"better": "green", "worse": "red"}.get(r["verdict"], "")
        table.add_row(r["category"], r["metric"], f"{r['a']:.3f}", f"{r['b']:.3f}", f"{r['delta']:+.3f}",
                      _ci(r), str(r["n"]), Text(r["verdict"], style=style))
    out.print(table)
    out.print(f"pass -> fail: {len(c.pass_to_fail)} rows; fail -> pass: {c.fail_to_pass} rows")
    if out_dir:
        out.print("written: " + ", ".join(str(p) for p in write_outputs(c, out_dir)))
    if len(c.safety_regressions):
        out.print(Text(f"SAFETY REGRESSION: {len(c.safety_regressions)} row(s) where B makes a dangerous miss "
                       "that A did not:", style="bold red"))
        for r in c.safety_regressions.head(20).to_dict("records"):
            out.print(f"  {r['scenario_id']}/{r['instance_id']}: {r['safety']} (harm {r['severity']})",
                      highlight=False, markup=False)
        raise typer.Exit(1)
    out.print(Text("no safety regression", style="green"))


@app.command("leaderboard")
def leaderboard_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run folders, one per model.")],
    shared: Annotated[bool, typer.Option("--shared", help="Use the scenarios all suites share unchanged.")] = False,
    label: Annotated[Optional[list[str]], typer.Option(help="A name per run, in order (default: model ids).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for leaderboard.html and leaderboard.md.")] = Path("leaderboard"),
) -> None:
    """Models side by side: mean win rate overall, per category and risk class, and a suggested roster."""
    from runner.leaderboard import build, write_outputs

    board = build(runs, shared, label)
    table = Table("model", "mean win rate", "pass rate", "safety failures", "harm-weighted error",
                  title=f"{len(board.models)} models, {board.rows} shared clean answers, {len(board.columns)} columns")
    for r in board.overall.to_dict("records"):
        table.add_row(r["model"], f"{r['mean win rate']:.3f}", f"{r['passed']:.3f}", f"{r['safety_failure']:.3f}",
                      f"{r['harm_weighted_error']:.3f}")
    out.print(table)
    roster = Table("category", "suggested model", "mean win rate", "safety failures", "caution", title="Suggested roster")
    for r in board.roster.to_dict("records"):
        roster.add_row(r["category"], r["suggested model"], r["mean win rate"], r["safety failures"], r["caution"])
    out.print(roster)
    html, md = write_outputs(board, out_dir)
    out.print(f"leaderboard: {html}\nsummary: {md}")


@models_app.command("list")
def models_list() -> None:
    """Every card in the model card folder."""
    from runner.cards import card_files, load_card

    table = Table("id", "name", "source", "license")
    for path in card_files():
        card = load_card(path)
        table.add_row(card.id, card.name, card.source.kind, card.license)
    out.print(table)


@models_app.command("show")
def models_show(model: Annotated[str, typer.Argument(help="Card id or path.")]) -> None:
    """A card's fields."""
    import yaml

    from runner.cards import find_card

    card = find_card(model)
    out.print(f"# {card.card_path}")
    out.print(yaml.safe_dump(card.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@models_app.command("verify")
def models_verify(model: Annotated[str, typer.Argument(help="Card id or path.")]) -> None:
    """Resolve the weights (converting a GGUF once), rehash every file, print the sha256 fingerprint."""
    from runner.cards import find_card
    from runner.weights import resolve

    weights = resolve(find_card(model), verify=True)
    if weights.source_file:
        out.print(f"source   {weights.source_file}\nsha256   {weights.source_sha256}")
    out.print(f"folder   {weights.folder}")
    for name, digest in weights.files.items():
        out.print(f"  {digest}  {name}")
    out.print(f"fingerprint {weights.fingerprint}")


@scenarios_app.command("list")
def scenarios_list(suite: SuiteOpt = paths.suite_dir()) -> None:
    """Scenarios of a suite with their task kind, category and size."""
    from runner.suite import load_suite

    loaded = load_suite(suite)
    table = Table("id", "version", "task", "category", "subcategory", "risk", "instances",
                  title=f"{loaded.id} {loaded.version}")
    for s in loaded.scenarios:
        table.add_row(s.id, str(s.version), s.task, s.category, s.subcategory, s.risk, str(len(s.instances)))
    out.print(table)


@scenarios_app.command("show")
def scenarios_show(scenario_id: str, suite: SuiteOpt = paths.suite_dir()) -> None:
    """One scenario's header and its instances' ids, answers and rationales."""
    from runner import tasks
    from runner.suite import load_suite

    s = load_suite(suite, [scenario_id]).scenarios[0]
    out.print(f"[bold]{s.id}[/] v{s.version}: {s.title}\n{s.task} | {s.category} / {s.subcategory} | risk {s.risk}")
    out.print(s.description.strip())
    table = Table("instance", "answer", "rationale")
    for inst in s.instances:
        table.add_row(inst.id, tasks.get(s.task).expected(inst), inst.rationale)
    out.print(table)


@scenarios_app.command("validate")
def scenarios_validate(path: Annotated[Optional[Path], typer.Argument(help="Suite folder or scenario file.")] = None) -> None:
    """Check every scenario file against its schema (exits 2 with file, line and field on the first bad
    one), then check that every instance's ideal reply gets full marks from its own scorer."""
    from runner.selfcheck import check_scenario
    from runner.suite import load_suite

    loaded = load_suite(path or paths.suite_dir())
    problems = [p for s in loaded.scenarios for p in check_scenario(s)]
    if problems:
        raise MedrunError(f"{len(problems)} instance(s) fail the self-check:\n  " + "\n  ".join(problems))
    n = sum(len(s.instances) for s in loaded.scenarios)
    out.print(f"ok: {len(loaded.scenarios)} scenarios, {n} instances in {loaded.id} {loaded.version} "
              f"(sha256 {loaded.sha256[:16]})")


@review_app.command("export")
def review_export(
    runs: Annotated[list[Path], typer.Argument(help="Run folders; several are mixed into one blinded sample.")],
    n: Annotated[int, typer.Option("--n", help="Items in the sample (all clean rows if fewer).")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the stratified draw and of the order.")] = 0,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder to write (default RUN/review; "
                                                                  "required for several runs).")] = None,
) -> None:
    """Write a stratified, model-blinded sample (CSV and XLSX) for clinicians, and the coordinator's key."""
    from runner.review import export

    folder = export(runs, n=n, seed=seed, out=out_dir)
    out.print(f"review folder: {folder}\n  to clinicians: sample.xlsx (or sample.csv)\n  keep: key.json")


@review_app.command("import")
def review_import(
    folder: Annotated[Path, typer.Argument(help="The review folder that `medrun review export` wrote.")],
    ratings: Annotated[list[Path], typer.Argument(help="Filled CSV or XLSX files, one per clinician or with a rater column.")],
) -> None:
    """Merge clinicians' ratings with the key; report agreement with the automatic scores (Cohen's kappa)."""
    from runner.review import import_ratings

    result = import_ratings(folder, ratings)
    k = result["kappa"]
    out.print(f"kappa (clinician acceptable vs automatic pass): {k['value']:.3f} (95% CI {_ci(k) or 'n/a'}), "
              f"observed agreement {result['observed_agreement']:.3f}, {k['n']} ratings of {result['items']} items "
              f"by {', '.join(result['raters'])}")
    table = Table("clinician", "automatic pass", "automatic fail")
    for row in result["table"]:
        table.add_row(row["clinician"], str(row["automatic_pass"]), str(row["automatic_fail"]))
    out.print(table)
    for pair in result["inter_rater"]:
        out.print(f"inter-rater kappa {' vs '.join(pair['raters'])}: {pair['value']:.3f} "
                  f"(95% CI {_ci(pair) or 'n/a'}, {pair['items']} shared items)")
    if result["harm"]["n"]:
        h = result["harm"]
        out.print(f"harm vs automatic severity ({h['n']} ratings): mean absolute difference "
                  f"{h['mean_abs_difference']:.2f}, clinician rated higher in {h['clinician_higher']:.1%}")
    for note in result["notes"]:
        out.print(Text(note, style="yellow"))
    out.print(f"agreement: {Path(folder) / 'agreement.json'}")
    for target in result["merged_into"]:
        out.print(f"merged into {target} (ratings.parquet, agreement.json; shown in that run's report)")


def main() -> None:
    try:
        app()
    except MedrunError as e:
        err.print(Text("error: ", style="bold red") + Text(str(e)))
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted: completions generated so far are in the cache; rerun the same command to resume.")
        sys.exit(130)
