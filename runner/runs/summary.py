"""summary.json from the wide score table: safety first, then per category and per scenario, every
metric with its 95% bootstrap interval and denominator, segmented by every tag, robustness deltas."""

from __future__ import annotations

import pandas as pd

from runner import tasks
from runner.runs import metrics
from runner.suite.schema import Scenario

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


def twin_pairs(part: pd.DataFrame, primary: str) -> pd.DataFrame:
    """Perturbed rows joined to their clean twins (same seed): perturbation, the clean instance (for
    clustering over seeds), clean and perturbed primary values, whether the answer flipped."""
    clean = part.loc[part["perturbation"].isna(), ["instance_id", "seed", primary, "parsed"]].rename(
        columns={"instance_id": "twin_of", primary: "clean", "parsed": "parsed_clean"})
    pairs = part[part["perturbation"].notna()].merge(clean, on=["twin_of", "seed"]).dropna(subset=[primary, "clean"])
    return pd.DataFrame({"perturbation": pairs["perturbation"], "instance_id": pairs["twin_of"],
                         "scenario_id": pairs["scenario_id"], "clean": pairs["clean"].astype(float),
                         "perturbed": pairs[primary].astype(float),
                         "flipped": (pairs["parsed"].fillna("") != pairs["parsed_clean"].fillna("")).astype(float)})


def robustness_of(pairs: pd.DataFrame) -> dict:
    """Clean vs perturbed means, paired-bootstrap delta and flip rate over twin pairs."""
    return {"clean": float(pairs["clean"].mean()), "perturbed": float(pairs["perturbed"].mean()),
            **metrics.paired_delta(pairs["clean"].to_numpy(), pairs["perturbed"].to_numpy(),
                                   metrics.instance_clusters(pairs)),
            "flip_rate": float(pairs["flipped"].mean())}


def robustness(part: pd.DataFrame, primary: str) -> dict:
    """Per perturbation: primary metric clean vs perturbed on paired rows, paired-bootstrap delta, flip rate."""
    return {name: {"metric": primary, **robustness_of(group)}
            for name, group in twin_pairs(part, primary).groupby("perturbation")}


def segments(part: pd.DataFrame, names: list[str]) -> dict:
    return {tag.removeprefix("tag_"): {str(value): metrics.summarize(group, names)
                                       for value, group in part.groupby(tag)}
            for tag in TAGS}


def build(wide: pd.DataFrame, scenarios: list[Scenario], **header) -> dict:
    clean = wide[wide["perturbation"].isna()]
    out = {**header, "safety": safety(wide), "categories": {}, "scenarios": {}}
    for category, part in clean.groupby("category"):
        out["categories"][category] = metrics.summarize(part, ["passed", "safety_failure", "harm_weighted_error"])
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
                                     tasks.get(scenario.task).primary)}
    return out
