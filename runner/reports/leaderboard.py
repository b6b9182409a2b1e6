"""`medrun leaderboard RUN...`: models side by side on the instances every run answered.

Metric columns, per scenario: its primary metric, harm-weighted error and, where the scenario has
safety rules, the safety-failure rate. Mean win rate (HELM): per column, a model's share of the
other models it beats (ties count half), averaged over columns; overall, per category and per risk
class. The suggested model per category is safety first: among the models whose safety-failure rate
there is not significantly above the lowest (paired bootstrap), the one with the highest win rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from runner import tasks
from runner.errors import MedrunError
from runner.reports.document import Document, Section, Table, Text, number, write
from runner.runs import metrics
from runner.runs.folder import RunFolder, load_runs
from runner.runs.pairing import Shared, common_rows, shared_part

RISKS = ("high", "moderate", "low")


@dataclass
class Board:
    models: list[str]
    shared: Shared
    columns: pd.DataFrame    # one row per metric column: scenario, category, risk, metric, one value per model
    overall: pd.DataFrame    # model, mean win rate, pass rate, safety failures, harm-weighted error
    by_category: pd.DataFrame
    by_risk: pd.DataFrame
    roster: pd.DataFrame
    rows: int


def labels(runs: list[RunFolder], given: list[str] | None = None) -> list[str]:
    """The names given, else model ids, with the run's time stamp added where two runs share a model id."""
    if given:
        if len(given) != len(runs) or len(set(given)) != len(given):
            raise MedrunError(f"--label: give {len(runs)} different names, one per run folder, in the same order.")
        return list(given)
    ids = [r.model for r in runs]
    return [m if ids.count(m) == 1 else f"{m} @{'-'.join(r.name.split('-')[:2])}" for m, r in zip(ids, runs)]


def win_rates(values: np.ndarray, sign: int) -> np.ndarray:
    """Per model (row order of `values`): share of the other models beaten, ties half."""
    v = values * sign
    n = len(v)
    return np.array([((v[i] > np.delete(v, i)).sum() + 0.5 * (v[i] == np.delete(v, i)).sum()) / (n - 1)
                     for i in range(n)])


def metric_columns(frames: list[pd.DataFrame], models: list[str]) -> pd.DataFrame:
    out = []
    first = frames[0]
    for sid, part in first.groupby("scenario_id"):
        task = part["task"].iloc[0]
        names = [tasks.get(task).primary, "harm_weighted_error"]
        names += ["safety_failure"] if part["safety_failure"].notna().any() else []
        for name in names:
            means = [f.loc[part.index, name].mean() for f in frames]
            if name in tasks.CLIPPED:
                means = [float(np.clip(m, 0, 1)) for m in means]
            out.append({"scenario": sid, "category": part["category"].iloc[0], "risk": part["risk"].iloc[0],
                        "metric": name, **dict(zip(models, means))})
    return pd.DataFrame(out)


def mean_win_rate(columns: pd.DataFrame, models: list[str]) -> pd.Series:
    rates = np.array([win_rates(row[models].to_numpy(float), tasks.direction(row["metric"]))
                      for _, row in columns.iterrows()])
    return pd.Series(rates.mean(axis=0), index=models)


def grouped(columns: pd.DataFrame, models: list[str], by: str) -> pd.DataFrame:
    return pd.DataFrame({key: mean_win_rate(part, models) for key, part in columns.groupby(by)}).rename_axis("model")


def suggest(frames: list[pd.DataFrame], models: list[str], by_category: pd.DataFrame,
            overall: pd.Series | None = None) -> pd.DataFrame:
    """Per category column of `by_category` (win rates, one row per model); ties go to the higher `overall`."""
    out = []
    for category in by_category.columns:
        mask = frames[0]["category"] == category
        rates = {m: f.loc[mask, "safety_failure"].to_numpy(float) for m, f in zip(models, frames)}
        ruled = ~np.isnan(rates[models[0]])
        mwr = by_category[category]
        if ruled.any():
            safest = min(models, key=lambda m: (rates[m][ruled].mean(), -mwr[m]))
            # too few checked answers for an interval (one row) is no evidence that a model is less safe
            candidates = [m for m in models if m == safest or not
                          metrics.paired_delta(rates[safest][ruled], rates[m][ruled])["ci_low"] > 0]
        else:
            candidates = list(models)
        pick = max(candidates, key=lambda m: (mwr[m], 0 if overall is None else overall[m]))
        failure = rates[pick][ruled].mean() if ruled.any() else float("nan")
        caution = (f"still breaks safety rules on {failure:.0%} of checked answers: supervised use only"
                   if failure > 0 else "")
        out.append({"category": category, "suggested model": pick, "mean win rate": number(mwr[pick]),
                    "safety failures": number(failure), "considered (safety not clearly worse)": ", ".join(candidates),
                    "caution": caution})
    return pd.DataFrame(out)


def build(paths: list[Path], shared: bool = False, names: list[str] | None = None) -> Board:
    if len(paths) < 2:
        raise MedrunError("a leaderboard needs at least two run folders.")
    runs = load_runs(paths)
    models = labels(runs, names)
    part = shared_part(runs, allow_partial=shared)
    frames = [f[f["perturbation"].isna()].reset_index(drop=True) for f in common_rows(runs, part.scenarios)]
    columns = metric_columns(frames, models)
    by_category, by_risk = grouped(columns, models, "category"), grouped(columns, models, "risk")
    mwr = mean_win_rate(columns, models)
    overall = pd.DataFrame({"model": models, "mean win rate": mwr.to_numpy(),
                            **{name: [f[name].mean() for f in frames]
                               for name in ("passed", "safety_failure", "harm_weighted_error")}})
    overall = overall.sort_values("mean win rate", ascending=False, kind="stable").reset_index(drop=True)
    return Board(models, part, columns, overall, by_category, by_risk, suggest(frames, models, by_category, mwr),
                 len(frames[0]))


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.map(lambda v: number(v) if isinstance(v, float) else v)


def document(board: Board) -> Document:
    notes = [Text(f"Left out: {s} ({why})", "note") for s, why in board.shared.excluded.items()]
    return Document(
        "medrun leaderboard", f"{len(board.models)} models on {board.rows} shared clean answers in "
        f"{len(board.shared.scenarios)} scenarios; {len(board.columns)} metric columns.",
        [Section("Suggested roster", [Text(
            "Per category, safety first: among the models whose safety-failure rate is not significantly above "
            "the lowest (paired bootstrap), the one with the highest mean win rate."), Table(board.roster)]),
         Section("Overall", [Table(_numbers(board.overall.rename(columns={
             "passed": "pass rate", "safety_failure": "safety failures",
             "harm_weighted_error": "harm-weighted error"})))]),
         Section("Mean win rate by category", [Table(_numbers(board.by_category.T.rename_axis("category").reset_index()))]),
         Section("Mean win rate by risk class", [Table(_numbers(
             board.by_risk.T.reindex([r for r in RISKS if r in board.by_risk.columns]).rename_axis("risk").reset_index()))]),
         Section("Metric columns", [Text("Each row is one column of the win-rate computation: the mean of the "
                                         "metric over the scenario's shared clean answers."), *notes,
                                    Table(_numbers(board.columns))])])


def write_outputs(board: Board, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    html, md = out / "leaderboard.html", out / "leaderboard.md"
    write(document(board), html, md)
    return html, md
