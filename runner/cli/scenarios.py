"""Scenario files: list, show, validate (schema, then the suite's self-check)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from runner import paths
from runner.cli.app import scenarios_app
from runner.cli.options import SuiteOpt, out
from runner.errors import MedrunError


@scenarios_app.command("list")
def scenarios_list(suite: SuiteOpt = paths.suite_dir()) -> None:
    """Scenarios of a suite with their task kind, category and size."""
    from runner.suite.load import load_suite

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
    from runner.suite.load import load_suite

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
    from runner.suite.load import load_suite
    from runner.suite.selfcheck import check_scenario

    loaded = load_suite(path or paths.suite_dir())
    problems = [p for s in loaded.scenarios for p in check_scenario(s)]
    if problems:
        raise MedrunError(f"{len(problems)} instance(s) fail the self-check:\n  " + "\n  ".join(problems))
    n = sum(len(s.instances) for s in loaded.scenarios)
    out.print(f"ok: {len(loaded.scenarios)} scenarios, {n} instances in {loaded.id} {loaded.version} "
              f"(sha256 {loaded.sha256[:16]})")
