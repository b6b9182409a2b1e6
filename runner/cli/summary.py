"""What `medrun eval` and `medrun score` print at the end: the safety headline, one row per category,
the five worst errors by harm, and where the full tables and the report are."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from runner.cli.options import ci, out
from runner.reports.judges import jury_lines
from runner.reports.report import grader_line
from runner.runs.folder import load_run, worst_errors
from runner.runs.metrics import SEVERITY_NAMES

WORST = 5
COLUMNS = {"passed": "pass rate", "safety_failure": "safety failures", "harm_weighted_error": "harm-weighted error"}


def _cell(row: dict | None) -> str:
    return "-" if row is None else f"{row['value']:.3f} ({ci(row)}, n={row['n']})"


def _excerpt(text: str, width: int = 110) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width] + " ..."


def print_run(folder: Path, report: Path | None) -> None:
    run = load_run(folder)
    summary = run.summary
    rate = summary["safety"]["rate"]
    if rate is None:
        out.print("safety: no answer in this run carries safety rules")
    else:
        failing = len(summary["safety"]["failures"])
        out.print(Text(f"safety: {rate['value']:.3f} of {rate['n']} rule-bearing answers break a safety rule "
                       f"(95% CI {ci(rate)}); {failing} failing answers, twins included",
                       style="bold red" if failing else "green"))
    if run.manifest.get("grader"):
        out.print(grader_line(run.manifest["grader"]), highlight=False, markup=False)
    table = Table("category", *COLUMNS.values(), title="Clean answers per category: value (95% CI, n)")
    for category, rows in summary["categories"].items():
        by = {r["metric"]: r for r in rows}
        table.add_row(category, *(_cell(by.get(m)) for m in COLUMNS))
    out.print(table)
    if summary.get("judges"):
        for line in jury_lines(summary["judges"]):
            out.print(line, highlight=False, markup=False)
    answers = run.answers()
    worst = worst_errors(answers[answers["perturbation"].isna()]).head(WORST)
    if len(worst):
        out.print(f"The {len(worst)} worst errors by harm:")
        for i, r in enumerate(worst.to_dict("records"), 1):
            out.print(f"  {i}. [{SEVERITY_NAMES[r['severity']]}] {r['scenario_id']}/{r['instance_id']}: "
                      f"expected {r['expected']}, got {r['parsed'] if isinstance(r['parsed'], str) else '-'}"
                      f"{'; ' + r['flags'] if r['flags'] else ''}\n     answer: {_excerpt(r['text'])}",
                      highlight=False, markup=False)
    out.print(f"every metric per scenario with 95% CIs: {run.path / 'summary.json'}\n"
              f"every answer's scores: {run.path / 'scores.parquet'}; answers: {run.path / 'completions.parquet'}")
    if report:
        out.print(f"report: {report}")
