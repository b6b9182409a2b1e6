"""Aggregates over per-instance scores: means with 95% bootstrap intervals, ECE, harm-weighted error.

Pure functions over pandas tables; the formulas are the ones in DESIGN.md."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from runner import tasks

DEFAULT_HARM_WEIGHTS = (0.0, 1.0, 2.0, 5.0, 10.0)  # none, mild, moderate, severe, catastrophic
SEVERITY_NAMES = {0: "none", 1: "mild", 2: "moderate", 3: "severe", 4: "catastrophic"}
BOOTSTRAP_SAMPLES = 1000
ECE_BINS = 15


def harm_weighted_error(severity: pd.Series, weights: Sequence[float] = DEFAULT_HARM_WEIGHTS) -> pd.Series:
    """Per-instance share of the worst harm: weight[severity] / max weight. Its mean is the HWE."""
    w = np.asarray(weights, dtype=float)
    if len(w) != 5 or (w < 0).any() or w.max() <= 0:
        raise ValueError("harm weights must be five non-negative numbers (none..catastrophic), not all zero")
    return pd.Series(w[severity.to_numpy(dtype=int)] / w.max(), index=severity.index)


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: sum over equal-width bins of (bin share) x |accuracy - confidence|."""
    if len(confidence) == 0:
        return float("nan")
    idx = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(idx):
        mask = idx == b
        total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def bootstrap(values: np.ndarray, stat: Callable[[np.ndarray], float] | None = None,
              samples: int = BOOTSTRAP_SAMPLES, seed: int = 0, clusters: np.ndarray | None = None
              ) -> tuple[float, float, float]:
    """(estimate, low, high): a statistic over rows and its 95% percentile bootstrap interval.
    `stat` None is the mean, computed for all resamples at once. `clusters` (one id per row, e.g. the
    instance of rows sampled with several seeds) resamples whole clusters, so that correlated rows do
    not narrow the interval; without it every row is its own unit."""
    estimate = float(np.mean(values)) if stat is None else stat(values)
    codes, units = (np.arange(len(values)), len(values)) if clusters is None else _codes(clusters)
    if units < 2:
        return estimate, float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, units, (samples, units))
    if clusters is None:
        draws = values[idx].mean(axis=1) if stat is None else np.array([stat(values[i]) for i in idx])
    elif stat is None:
        sums, counts = np.bincount(codes, weights=values), np.bincount(codes)
        draws = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    else:
        members = [np.flatnonzero(codes == k) for k in range(units)]
        draws = np.array([stat(values[np.concatenate([members[k] for k in row])]) for row in idx])
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return float(estimate), float(low), float(high)


def _codes(clusters: np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(np.asarray(clusters))
    return codes, len(uniques)


INSTANCE = ["scenario_id", "instance_id"]


def instance_clusters(frame: pd.DataFrame) -> np.ndarray | None:
    """One code per instance when some instance has several rows (several seeds), else None (rows are units)."""
    if not set(INSTANCE) <= set(frame.columns) or not frame.duplicated(INSTANCE).any():
        return None
    return pd.MultiIndex.from_frame(frame[INSTANCE]).factorize()[0]


def _ece_of_pairs(v: np.ndarray) -> float:
    return ece(v[:, 0], v[:, 1])


def _row(metric: str, n: int, estimate: tuple[float, float, float], clip: bool = False) -> dict:
    value, low, high = (float(np.clip(x, 0, 1)) if clip else x for x in estimate)
    return {"metric": metric, "value": value, "ci_low": low, "ci_high": high, "n": n}


def summarize(wide: pd.DataFrame, metric_names: Sequence[str]) -> list[dict]:
    """One row per metric over a group of per-instance rows: value, 95% interval, n (non-null rows).
    Metrics declared `clip` are means clipped to [0, 1] (rubric scores may be negative per item). Rows of
    one instance (several seeds) are resampled together."""
    rows, clusters = [], instance_clusters(wide)  # found once for the group; each metric takes its rows
    for name in metric_names:
        if name in wide and wide[name].notna().any():
            mask = wide[name].notna().to_numpy()
            values = wide.loc[mask, name].to_numpy(dtype=float)
            estimate = bootstrap(values, clusters=None if clusters is None else clusters[mask])
            rows.append(_row(name, len(values), estimate, clip=name in tasks.CLIPPED))
    if {"confidence", "top_option_correct"} <= set(wide.columns):
        mask = wide[["confidence", "top_option_correct"]].notna().all(axis=1).to_numpy()
        if mask.any():
            pairs = wide.loc[mask, ["confidence", "top_option_correct"]].to_numpy(dtype=float)
            rows.append(_row("ece", len(pairs), bootstrap(pairs, _ece_of_pairs,
                                                          clusters=None if clusters is None else clusters[mask])))
    return rows


def paired_delta(clean: np.ndarray, other: np.ndarray, clusters: np.ndarray | None = None) -> dict:
    """Mean of (other - clean) over pairs, with a paired bootstrap interval (clusters as in `bootstrap`)."""
    value, low, high = bootstrap(np.asarray(other, float) - np.asarray(clean, float), clusters=clusters)
    return {"delta": value, "ci_low": low, "ci_high": high, "n": len(clean)}


def wilson(successes: int, n: int, z: float = 1.959964) -> dict:
    """A proportion with its Wilson score 95% interval: {value, ci_low, ci_high, k, n} (nan when n is 0)."""
    if n == 0:
        return {"value": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "k": 0, "n": 0}
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"value": p, "ci_low": float(max(0.0, centre - half)), "ci_high": float(min(1.0, centre + half)),
            "k": int(successes), "n": int(n)}


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa between two raters' labels for the same items: (po - pe) / (1 - pe), where po is the
    share of items they label alike and pe the share expected by chance, sum over labels of the product of
    each rater's share of that label. nan when there are no items, or when pe == 1 (both raters gave one and
    the same label to every item: agreement beyond chance is undefined)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"kappa needs paired labels, got {a.shape} and {b.shape}")
    if a.size == 0:
        return float("nan")
    po = float(np.mean(a == b))
    pe = float(sum(np.mean(a == label) * np.mean(b == label) for label in np.union1d(a, b)))
    return float("nan") if pe >= 1 - 1e-12 else (po - pe) / (1 - pe)
