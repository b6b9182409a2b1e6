"""Graders measured before they are trusted: `medrun graders check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from runner.cli.app import graders_app
from runner.cli.options import DeviceOpt, EngineOpt, JudgeOpt, JudgeTriesOpt, out


def _rate(r: dict) -> str:
    return "-" if not r["n"] else f"{r['value']:.3f} ({r['ci_low']:.3f}-{r['ci_high']:.3f}; {r['k']}/{r['n']})"


def _graders(title: str, summaries: dict[str, dict]) -> Table:
    table = Table("grader", "replies", "sensitivity (unsafe flagged)", "specificity (safe passed)", "kappa vs labels",
                  "unparsed (counted unsafe)", title=title)
    for name, s in summaries.items():
        r = s["overall"]
        kappa = "-" if r["kappa"] is None else f"{r['kappa']:.3f}"
        table.add_row(name, str(r["n"]), _rate(r["sensitivity"]), _rate(r["specificity"]), kappa, _rate(r["unparsed"]))
    return table


def _table(title: str, groups: dict[str, dict], label: str) -> Table:
    table = Table(label, "replies", "sensitivity (unsafe flagged)", "specificity (safe passed)", "disposition agreement",
                  title=title)
    for name, r in groups.items():
        table.add_row(name, str(r["n"]), _rate(r["sensitivity"]), _rate(r["specificity"]),
                      _rate(r["disposition_agreement"]))
    return table


@graders_app.command("check")
def check_cmd(
    suite: Annotated[Optional[Path], typer.Option("--suite", help="Suite whose rules grade the replies (default: the shipped one).")] = None,
    check_set: Annotated[Optional[Path], typer.Option("--set", help="Folder of labelled replies (*.jsonl; default SUITE/grader_checks).")] = None,
    split: Annotated[str, typer.Option(help="all, dev or heldout.")] = "all",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for check.json and misclassified.jsonl.")] = Path("grader-check"),
    limit: Annotated[Optional[int], typer.Option(help="Only the first N replies of the split (a quick look at a judge).")] = None,
    judge: JudgeOpt = None,
    judge_tries: JudgeTriesOpt = 2,
    engine: EngineOpt = "auto",
    device: DeviceOpt = "auto",
    cache: Annotated[Optional[Path], typer.Option(help="SQLite cache for the judges' answers (default $MEDRUN_HOME/cache.sqlite).")] = None,
) -> None:
    """Score the rule grader, and each --judge and their jury, against the labelled replies: sensitivity and
    specificity with 95% intervals (for the rule grader overall, per split, per condition and per mechanism;
    for judges with kappa against the labels and the unparsed rate); write the replies each gets wrong.
    Exits 1 when the rule grader falls below the floor recorded beside the check set (floor.yaml)."""
    from runner import paths
    from runner.errors import MedrunError
    from runner.graders.check import CHECK_SET, below_floor, check_rules, floor, misclassified, summarize
    from runner.runs.files import write_json, write_text

    if split not in ("all", "dev", "heldout"):
        raise MedrunError("--split must be all, dev or heldout.")
    if limit is not None and limit < 1:
        raise MedrunError("--limit must be at least 1.")
    folder = check_set or (suite or paths.suite_dir()) / CHECK_SET
    checked = check_rules(suite, folder, split, limit)
    summary, wrong = summarize(checked.verdicts, checked.checks), misclassified(checked.verdicts)
    out.print(_table(f"Rule grader on {summary['items']} labelled replies ({split})",
                     {"all": summary["overall"], **summary["splits"]}, "part"))
    out.print(_table("Per condition", summary["conditions"], "condition"))
    out.print(_table("Per mechanism", summary["mechanisms"], "mechanism"))
    if judge:
        from runner.completions.cache import Cache
        from runner.engines.base import EngineOptions
        from runner.graders.judged import judged
        from runner.judges import panel

        judges = panel.load(judge, engine, EngineOptions(device=device), None, allow_self_judge=True)
        store = Cache(cache or paths.home() / "cache.sqlite")
        try:
            by_judge, judge_wrong, described = judged(judges, store, checked, judge_tries)
        finally:
            store.close()
        out.print(_graders(f"Rule grader and judges on {summary['items']} labelled replies ({split})",
                           {"rule": summary, **by_judge}))
        summary = {**summary, "judges": {"described": described, "results": by_judge}}
        wrong += judge_wrong
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "check.json", summary)
    write_text(out_dir / "misclassified.jsonl", "".join(json.dumps(w) + "\n" for w in wrong))
    out.print(f"{len(wrong)} misclassified: {out_dir / 'misclassified.jsonl'}; all figures: {out_dir / 'check.json'}")
    failing = below_floor(summary, floor(folder)) if split == "all" and limit is None else []
    if failing:
        out.print(Text("BELOW THE RECORDED FLOOR: " + "; ".join(failing), style="bold red"))
        raise typer.Exit(1)
