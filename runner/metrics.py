"""Aggregates over per-instance scores: means with 95% bootstrap intervals, ECE, harm-weighted error.

Pure functions over pandas tables; the formulas are the ones in DESIGN.md."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

DEFAULT_HARM_WEIGHTS = (0.0, 1.0, 2.0, 5.0, 10.0)  # none, mild, moderate, severe, catastrophic
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


def bootstrap(values: np.ndarray, stat: Callable[[np.ndarray], float], samples: int = BOOTSTRAP_SAMPLES,
              seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): the statistic and its 95% percentile bootstrap interval over rows."""
    estimate = stat(values)
    if len(values) < 2:
        return estimate, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = [stat(values[rng.integers(0, len(values), len(values))]) for _ in range(samples)]
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return float(estimate), float(low), float(high)


def _mean(v: np.ndarray) -> float:
    return float(np.mean(v))


def _ece_of_pairs(v: np.ndarray) -> float:
    return ece(v[:, 0], v[:, 1])


def summarize(wide: pd.DataFrame, metric_names: Sequence[str]) -> list[dict]:
    """One row per metric for a group of per-instance rows: value, interval, n (non-null rows)."""
    rows = []
    for name in metric_names:
        values = wide[name].dropna().to_numpy(dtype=float) if name in wide else np.array([])
        if len(values) == 0:
            continue
        value, low, high = bootstrap(values, _mean)
        rows.append({"metric": name, "value": value, "ci_low": low, "ci_high": high, "n": len(values)})
    if {"confidence", "top_option_correct"} <= set(wide.columns):
        pairs = wide[["confidence", "top_option_correct"]].dropna().to_numpy(dtype=float)
        if len(pairs):
            value, low, high = bootstrap(pairs, _ece_of_pairs)
            rows.append({"metric": "ece", "value": value, "ci_low": low, "ci_high": high, "n": len(pairs)})
    return rows
