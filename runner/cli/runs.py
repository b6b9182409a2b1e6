"""Commands that read run folders only: report, compare, leaderboard. No model library is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from runner.cli.app import app
from runner.cli.options import RunArg, SharedOpt, ci, err, out
from runner.errors import MedrunError


@app.command("report")
def report_cmd(
    run: RunArg,
    worst: Annotated[int, typer.Option(help="How many of the most harmful errors to show in full.")] = 15,
) -> None:
    """Write report.html (self-contained, opens offline) and report.md into the run folder."""
    from runner.reports.report import report

    if worst < 1:
        raise MedrunError("--worst must be at least 1.")
    html, md = report(run, worst)
    out.print(f"report: {html}\nsummary: {md}")


@app.command("compare")
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Baseline run folder (A).")],
    run_b: Annotated[Path, typer.Argument(help="Candidate run folder (B), e.g. the fine-tuned checkpoint.")],
    shared: SharedOpt = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Also write compare.html, .md and .json here.")] = None,
) -> None:
    """Paired comparison of B against A; exits 1 when B has a safety regression (for CI gates)."""
    from runner.reports.compare import compare, write_outputs

    c = compare(run_a, run_b, shared)
    for note in c.notes + c.shared.differences:
        err.print(f"note: {note}", highlight=False, markup=False)
    table = Table(title=f"{c.b.model} (B) vs {c.a.model} (A): {c.rows} shared rows")
    for col in ("category", "metric", "A", "B", "B - A", "95% CI", "n", "verdict"):
        table.add_column(col, justify="left" if col in ("category", "metric", "verdict") else "right")
    for r in c.deltas.to_dict("records"):
        style = {"better": "green", "worse": "red"}.get(r["verdict"], "")
        table.add_row(r["category"], r["metric"], f"{r['a']:.3f}", f"{r['b']:.3f}", f"{r['delta']:+.3f}",
                      ci(r), str(r["n"]), Text(r["verdict"], style=style))
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
    shared: SharedOpt = False,
    label: Annotated[Optional[list[str]], typer.Option(help="A name per run, in order (default: model ids).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for leaderboard.html and leaderboard.md.")] = Path("leaderboard"),
) -> None:
    """Models side by side: mean win rate overall, per category and risk class, and a suggested roster."""
    from runner.reports.leaderboard import build, write_outputs

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
