"""Reading a finished run folder back: manifest, summary, per-row scores and answers.

Reports, comparisons, leaderboards and clinician review work from run folders alone; this is the
one place that opens them and says clearly what is wrong with a folder that cannot be used."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from runner import tasks
from runner.errors import MedrunError
from runner.runs.summary import ID_COLUMNS

KEY = ["scenario_id", "instance_id", "seed"]  # one row per request; twins have their own instance ids


@dataclass
class RunFolder:
    path: Path
    manifest: dict
    summary: dict

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str:
        return self.manifest["model"]["id"]

    @property
    def scenarios(self) -> dict[str, dict]:
        """Scenario id -> what the manifest recorded: version, title, task, category, risk, file hash."""
        return self.manifest["suite"]["scenarios"]

    @property
    def scorer_version(self) -> str | None:
        """sha256 of the code that scored the rows (None for runs made before it was recorded)."""
        return (self.manifest.get("scorer") or {}).get("sha256")

    def title(self, scenario_id: str) -> str:
        """The scenario's title as the manifest recorded it (its id for runs made before titles were)."""
        return self.scenarios.get(scenario_id, {}).get("title", scenario_id)

    @cached_property
    def scores(self) -> pd.DataFrame:
        """Wide: one row per request (identifiers, tags, answer, severity, flags) and one column per metric."""
        long = _read_parquet(self.path / "scores.parquet")
        ids = long.drop_duplicates(KEY)[[c for c in ID_COLUMNS if c in long.columns]]
        values = long.pivot(index=KEY, columns="metric", values="value").reset_index()
        values.columns.name = None
        wide = ids.merge(values, on=KEY, how="left")
        if "safety_failure" not in wide:  # no row of the run carried safety rules
            wide["safety_failure"] = float("nan")
        if "passed" not in wide:  # runs scored before `passed` was stored
            wide["passed"] = [tasks.get(row["task"]).passed(row, row.get("safety_failure"))
                              for row in wide.to_dict("records")]
        return wide.sort_values(KEY, kind="stable").reset_index(drop=True)

    @cached_property
    def completions(self) -> pd.DataFrame:
        table = _read_parquet(self.path / "completions.parquet")
        if "user" not in table:  # runs written before the user message was stored
            table["user"] = table["prompt"]
        return table

    @cached_property
    def jury(self) -> pd.DataFrame | None:
        """The jury's verdict per judge question (jury.parquet), or None for a run made without judges."""
        path = self.path / "jury.parquet"
        return _read_parquet(path) if path.is_file() else None

    def answers(self) -> pd.DataFrame:
        """Scores joined with the user message and the reply text, one row per request."""
        text = self.completions[[*KEY, "user", "text"]].drop_duplicates(KEY)
        return self.scores.merge(text, on=KEY, how="left")


RISK_ORDER = {"high": 0, "moderate": 1, "low": 2}


def worst_errors(rows: pd.DataFrame) -> pd.DataFrame:
    """Answers that failed or carried harm, most harmful first: severity, then the scenario's risk class."""
    wrong = rows[(rows["severity"] > 0) | (rows["passed"] == 0)]
    order = wrong.assign(risk_order=wrong["risk"].map(RISK_ORDER))
    return order.sort_values(["severity", "risk_order", "scenario_id", "instance_id"],
                             ascending=[False, True, True, True]).drop(columns="risk_order")


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise MedrunError(f"{path}: missing. The run folder is incomplete; rerun the eval command that made it.")
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for damaged files
        raise MedrunError(f"{path}: cannot be read as parquet ({e}). Rerun the eval command that made it.") from None


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MedrunError(f"{path}: missing. The run folder is incomplete; rerun the eval command that made it.") from None
    except json.JSONDecodeError as e:
        raise MedrunError(f"{path}:{e.lineno}: not valid JSON ({e.msg}).") from None


def load_run(path: Path) -> RunFolder:
    """A complete run folder, or a MedrunError naming what is missing and what to do."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise MedrunError(f"{path}: no such run folder. Pass a folder that `medrun eval` or `medrun score` wrote.")
    manifest = read_json(path / "manifest.json")
    if manifest.get("status") != "complete":
        command = " ".join(manifest.get("command") or ["medrun", "eval", "..."])
        raise MedrunError(f"{path}: the run did not finish (status '{manifest.get('status')}'). Rerun `{command}`: "
                          "completions already made come from the cache.")
    return RunFolder(path, manifest, read_json(path / "summary.json"))


def load_runs(paths: list[Path]) -> list[RunFolder]:
    runs = [load_run(p) for p in paths]
    seen: dict[Path, Path] = {}
    for run, p in zip(runs, paths):
        if run.path.resolve() in seen:
            raise MedrunError(f"{p}: the same run folder is given twice.")
        seen[run.path.resolve()] = p
    return runs
