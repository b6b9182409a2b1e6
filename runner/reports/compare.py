"""`medrun compare A B`: B against A on the instances both answered.

Per category and metric: A's and B's means on clean rows, the paired difference B - A with a paired
bootstrap interval, and whether B is better, worse or not clearly different. Per row: answers that
went from pass to fail, safety regressions (a dangerous miss in B that A did not make) listed first.
A safety regression is what a team gates a fine-tuned checkpoint on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from runner import tasks
from runner.reports.document import Document, Section, Table, Text, interval, number, signed, write
from runner.runs import files, metrics
from runner.runs.folder import KEY, RunFolder, load_runs
from runner.runs.pairing import Shared, common_rows, shared_part
from runner.runs.summary import ID_COLUMNS


@dataclass
class Comparison:
    a: RunFolder
    b: RunFolder
    shared: Shared
    rows: int                    # shared rows (clean and twins)
    deltas: pd.DataFrame         # category, metric, a, b, delta, ci_low, ci_high, n, verdict
    by_scenario: pd.DataFrame    # the same per scenario, primary metric and pass rate
    safety_regressions: pd.DataFrame
    pass_to_fail: pd.DataFrame   # other rows that went from pass to fail
    fail_to_pass: int
    notes: list[str]


def verdict(metric: str, low: float, high: float) -> str:
    sign = tasks.direction(metric)
    if sign == 0 or np.isnan(low) or low <= 0 <= high:
        return "no clear change"
    return "better" if (low > 0) == (sign > 0) else "worse"


HEADLINE = ("passed", *tasks.SAFETY_METRICS, "harm_weighted_error")


def _paired(a: pd.DataFrame, b: pd.DataFrame, groups: list[tuple[dict, np.ndarray, list[str]]]) -> pd.DataFrame:
    """For each (labels, row mask, metrics): A and B means on rows both scored, B - A, paired interval, verdict."""
    out = []
    for labels, mask, names in groups:
        for metric in names:
            x, y = a.loc[mask, metric].to_numpy(float), b.loc[mask, metric].to_numpy(float)
            both = ~np.isnan(x) & ~np.isnan(y)
            if both.any():
                d = metrics.paired_delta(x[both], y[both], metrics.instance_clusters(a.loc[mask][both]))
                out.append({**labels, "metric": metric, "a": float(x[both].mean()), "b": float(y[both].mean()),
                            **d, "verdict": verdict(metric, d["ci_low"], d["ci_high"])})
    return pd.DataFrame(out)


def deltas(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Clean rows: the headline metrics over all categories, then every metric per category."""
    clean = a["perturbation"].isna().to_numpy()
    names = sorted((set(a.columns) & set(b.columns)) - set(ID_COLUMNS) - set(KEY))
    groups = [({"category": "all"}, clean, [m for m in HEADLINE if m in names])]
    groups += [({"category": c}, clean & (a["category"] == c).to_numpy(), names)
               for c in sorted(a.loc[clean, "category"].unique())]
    return _paired(a, b, groups)


def scenario_deltas(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Clean rows per scenario: its primary metric and the pass rate."""
    clean = a["perturbation"].isna().to_numpy()
    return _paired(a, b, [({"scenario": sid}, clean & (a["scenario_id"] == sid).to_numpy(),
                           list(dict.fromkeys([tasks.get(task).primary, "passed"])))
                          for sid, task in sorted(set(zip(a.loc[clean, "scenario_id"], a.loc[clean, "task"])))])


def transitions(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(safety regressions, other pass-to-fail rows, count of fail-to-pass rows)."""
    base = b[[*KEY, "perturbation", "category", "risk", "severity", "flags"]].copy()
    base["severity_a"] = a["severity"].to_numpy()
    new = [m for m in tasks.SAFETY_METRICS if m in a and m in b]
    hits = {m: ((a[m] == 0) & (b[m] == 1)).to_numpy() for m in new}
    base["safety"] = [" ".join(m for m in new if hits[m][i]) for i in range(len(base))]
    worse = base["safety"] != ""
    lost = (a["passed"] == 1) & (b["passed"] == 0)
    order = ["severity", "scenario_id", "instance_id"]
    safety = base[worse].sort_values(order, ascending=[False, True, True])
    others = base[lost & ~worse].sort_values(order, ascending=[False, True, True])
    return safety, others, int(((a["passed"] == 0) & (b["passed"] == 1)).sum())


def config_notes(a: RunFolder, b: RunFolder) -> list[str]:
    notes = []
    for label, get in (("harm weights", lambda r: r.manifest["harm_weights"]),
                       ("medrun version", lambda r: r.manifest["medrun_version"]),
                       ("decoding temperature", lambda r: r.manifest["config"].get("temperature")),
                       ("seeds", lambda r: r.manifest["seeds"])):
        if get(a) != get(b):
            notes.append(f"{label} differ: A {get(a)}, B {get(b)}")
    return notes


def compare(path_a: Path, path_b: Path, shared: bool = False) -> Comparison:
    a, b = load_runs([path_a, path_b])
    part = shared_part([a, b], allow_partial=shared)
    rows_a, rows_b = common_rows([a, b], part.scenarios)
    safety, others, gained = transitions(rows_a, rows_b)
    notes = config_notes(a, b)
    if part.excluded:
        notes.append("left out: " + "; ".join(f"{s} ({why})" for s, why in part.excluded.items()))
    return Comparison(a, b, part, len(rows_a), deltas(rows_a, rows_b), scenario_deltas(rows_a, rows_b), safety,
                      others, gained, notes)


def _transition_table(frame: pd.DataFrame, with_safety: bool) -> pd.DataFrame:
    cols = {"scenario": frame["scenario_id"], "instance": frame["instance_id"], "seed": frame["seed"],
            "twin": frame["perturbation"].fillna(""), "harm A": frame["severity_a"], "harm B": frame["severity"]}
    if with_safety:
        cols["new dangerous miss"] = frame["safety"]
    cols["flags in B"] = frame["flags"]
    return pd.DataFrame(cols)


def _delta_table(d: pd.DataFrame, first: str) -> pd.DataFrame:
    return pd.DataFrame({first: d[first], "metric": d["metric"], "A": d["a"].map(number), "B": d["b"].map(number),
                         "B - A": d["delta"].map(signed),
                         "95% CI": [interval(x, y) for x, y in zip(d["ci_low"], d["ci_high"])], "n": d["n"],
                         "verdict": d["verdict"]})


def document(c: Comparison) -> Document:
    n_safety = len(c.safety_regressions)
    head = Text(f"{n_safety} safety regression(s): B makes a dangerous miss (safety rule broken, critical "
                "under-triage or missed emergency advice) on rows where A did not." if n_safety else
                "No safety regression: B makes no dangerous miss that A avoided.", "alert" if n_safety else "ok")
    return Document(
        f"medrun compare: {c.b.model} (B) against {c.a.model} (A)",
        f"A = {c.a.name}; B = {c.b.name}; {c.rows} shared rows in {len(c.shared.scenarios)} scenarios.",
        [Section("Safety regressions", [head, Table(_transition_table(c.safety_regressions, True))]),
         Section("Pass to fail", [Text(f"{len(c.pass_to_fail)} other row(s) went from pass to fail; "
                                       f"{c.fail_to_pass} went from fail to pass."),
                                  Table(_transition_table(c.pass_to_fail, False))]),
         Section("Metrics", [Text("Clean rows both runs scored; paired bootstrap (1,000 resamples) on B - A. "
                                  "'better'/'worse' only when the 95% interval excludes zero."),
                             Table(_delta_table(c.deltas, "category"), "By category"),
                             Table(_delta_table(c.by_scenario, "scenario"), "By scenario: primary metric and pass rate")]),
         Section("Notes", [Text(n) for n in c.notes + c.shared.differences] or [Text("Same suite and settings.")])])


def write_outputs(c: Comparison, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "compare.html", out / "compare.md", out / "compare.json"]
    write(document(c), paths[0], paths[1])
    files.write_json(paths[2], {
        "a": c.a.name, "b": c.b.name, "scenarios": c.shared.scenarios, "excluded": c.shared.excluded,
        "rows": c.rows, "notes": c.notes, "differences": c.shared.differences,
        "deltas": c.deltas.to_dict("records"), "by_scenario": c.by_scenario.to_dict("records"),
        "safety_regressions": json.loads(c.safety_regressions.to_json(orient="records")),
        "pass_to_fail": json.loads(c.pass_to_fail.to_json(orient="records")), "fail_to_pass": c.fail_to_pass})
    return paths
