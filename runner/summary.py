"""summary.json from the wide score table: safety first, then per category and per scenario, every
metric with its 95% bootstrap interval and denominator, segmented by every tag, robustness deltas."""

from __future__ import annotations

import pandas as pd

from runner import metrics, tasks
from runner.suite import Scenario

TAGS = ["tag_acuity", "tag_age_group", "tag_sex", "tag_setting"]
ID_COLUMNS = ["scenario_id", "instance_id", "seed", "perturbation", "twin_of", "task", "category", "subcategory",
              "risk", *TAGS, "expected", "parsed", "severity", "flags"]


def metric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ID_COLUMNS and frame[c].notna().any()]


def safety(wide: pd.DataFrame) -> dict:
    """Rate over clean rows that carry rules; every failing row listed, twins included."""
    ruled = wide[wide["safety_failure"].notna()]
    clean = ruled[ruled["perturbation"].isna()]
    rows = metrics.summarize(clean, ["safety_failure"])
    failing = ruled[ruled["safety_failure"] == 1.0]
    return {"rate": rows[0] if rows else None,
            "failures": [{k: (None if pd.isna(v) else v) for k, v in r.items()}
                         for r in failing[["scenario_id", "instance_id", "seed", "perturbation", "severity",
                                           "flags"]].to_dict("records")]}


def robustness(part: pd.DataFrame, primary: str) -> dict:
    """Per perturbation: primary metric clean vs perturbed on paired rows, paired-bootstrap delta, flip rate."""
    clean = part[part["perturbation"].isna()].set_index(["instance_id", "seed"])
    out = {}
    for name, twins in part[part["perturbation"].notna()].groupby("perturbation"):
        pairs = twins.join(clean[[primary, "parsed"]], on=["twin_of", "seed"], rsuffix="_clean")
        pairs = pairs.dropna(subset=[primary, f"{primary}_clean"])
        if pairs.empty:
            continue
        flips = (pairs["parsed"].fillna("") != pairs["parsed_clean"].fillna("")).to_numpy(dtype=float)
        out[name] = {"metric": primary, "clean": float(pairs[f"{primary}_clean"].mean()),
                     "perturbed": float(pairs[primary].mean()),
                     **metrics.paired_delta(pairs[f"{primary}_clean"].to_numpy(), pairs[primary].to_numpy()),
                     "flip_rate": float(flips.mean())}
    return out


def segments(part: pd.DataFrame, names: list[str]) -> dict:
    return {tag.removeprefix("tag_"): {str(value): metrics.summarize(group, names)
                                       for value, group in part.groupby(tag)}
            for tag in TAGS}


def build(wide: pd.DataFrame, scenarios: list[Scenario], **header) -> dict:
    clean = wide[wide["perturbation"].isna()]
    out = {**header, "safety": safety(wide), "categories": {}, "scenarios": {}}
    for category, part in clean.groupby("category"):
        out["categories"][category] = metrics.summarize(part, ["safety_failure", "harm_weighted_error"])
    for scenario in scenarios:
        part = clean[clean["scenario_id"] == scenario.id]
        if part.empty:
            continue
        names = metric_columns(part)
        out["scenarios"][scenario.id] = {
            "task": scenario.task, "category": scenario.category, "subcategory": scenario.subcategory,
            "risk": scenario.risk, "instances": int(part["instance_id"].nunique()), "rows": len(part),
            "metrics": metrics.summarize(part, names), "segments": segments(part, names),
            "robustness": robustness(wide[wide["scenario_id"] == scenario.id],
                                     tasks.get(scenario.task).PRIMARY)}
    return out
