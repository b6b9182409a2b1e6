"""Blinded clinician review: export a stratified sample, import the ratings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from runner.cli.app import review_app
from runner.cli.options import ci, out


@review_app.command("export")
def review_export(
    runs: Annotated[list[Path], typer.Argument(help="Run folders; several are mixed into one blinded sample.")],
    n: Annotated[int, typer.Option("--n", help="Items in the sample (all clean rows if fewer).")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the stratified draw and of the order.")] = 0,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder to write (default RUN/review; "
                                                                  "required for several runs).")] = None,
) -> None:
    """Write a stratified, model-blinded sample (CSV and XLSX) for clinicians, and the coordinator's key."""
    from runner.reports.review import export

    folder = export(runs, n=n, seed=seed, out=out_dir)
    out.print(f"review folder: {folder}\n  to clinicians: sample.xlsx (or sample.csv)\n  keep: key.json")


@review_app.command("import")
def review_import(
    folder: Annotated[Path, typer.Argument(help="The review folder that `medrun review export` wrote.")],
    ratings: Annotated[list[Path], typer.Argument(help="Filled CSV or XLSX files, one per clinician or with a rater column.")],
) -> None:
    """Merge clinicians' ratings with the key; report agreement with the automatic scores (Cohen's kappa)."""
    from runner.reports.review import import_ratings

    result = import_ratings(folder, ratings)
    k = result["kappa"]
    out.print(f"kappa (clinician acceptable vs automatic pass): {k['value']:.3f} (95% CI {ci(k) or 'n/a'}), "
              f"observed agreement {result['observed_agreement']:.3f}, {k['n']} ratings of {result['items']} items "
              f"by {', '.join(result['raters'])}")
    table = Table("clinician", "automatic pass", "automatic fail")
    for row in result["table"]:
        table.add_row(row["clinician"], str(row["automatic_pass"]), str(row["automatic_fail"]))
    out.print(table)
    for pair in result["inter_rater"]:
        out.print(f"inter-rater kappa {' vs '.join(pair['raters'])}: {pair['value']:.3f} "
                  f"(95% CI {ci(pair) or 'n/a'}, {pair['items']} shared items)")
    if result["harm"]["n"]:
        h = result["harm"]
        out.print(f"harm vs automatic severity ({h['n']} ratings): mean absolute difference "
                  f"{h['mean_abs_difference']:.2f}, clinician rated higher in {h['clinician_higher']:.1%}")
    for note in result["notes"]:
        out.print(Text(note, style="yellow"))
    out.print(f"agreement: {Path(folder) / 'agreement.json'}")
    for target in result["merged_into"]:
        out.print(f"merged into {target} (ratings.parquet, agreement.json; shown in that run's report)")
