"""Plots for reports, as PNG bytes. matplotlib's object API only (no pyplot state, no display)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from runner.runs.metrics import ECE_BINS

INK, ACCENT, DANGER, GRID = "#1d232a", "#0a58a8", "#c5221f", "#d8dee4"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def forest(rows: pd.DataFrame, title: str, xlabel: str, zero: bool = False) -> bytes:
    """One line per row: `label`, `value` and its interval `ci_low`..`ci_high`; top row first.
    `zero` draws the no-change line (for deltas) instead of fixing the axis to [0, 1]."""
    rows = rows.iloc[::-1]
    y = np.arange(len(rows))
    fig = Figure(figsize=(8.5, 0.6 + 0.28 * max(len(rows), 3)))
    ax = fig.add_subplot()
    low = (rows["value"] - rows["ci_low"]).clip(lower=0).fillna(0)
    high = (rows["ci_high"] - rows["value"]).clip(lower=0).fillna(0)
    ax.errorbar(rows["value"], y, xerr=[low, high], fmt="o", color=ACCENT, ecolor=INK, elinewidth=1, capsize=2,
                markersize=4)
    ax.set_yticks(y, rows["label"], fontsize=8)
    if zero:
        ax.axvline(0, color=DANGER, linewidth=1)
    else:
        ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", color=GRID)
    return _png(fig)


def confusion(matrix: pd.DataFrame, title: str) -> bytes:
    """Counts, reference in rows and prediction in columns; cells above the diagonal (less urgent
    than the reference: under-triage) in red, below it (over-triage) in blue."""
    fig = Figure(figsize=(5.6, 4.4))
    ax = fig.add_subplot()
    counts = matrix.to_numpy(dtype=float)
    ax.imshow(counts, cmap="Greys", vmin=0, vmax=max(counts.max(), 1) * 1.6)
    for i, ref in enumerate(matrix.index):
        for j, pred in enumerate(matrix.columns):
            under = pred == "none" or (isinstance(pred, int) and pred > ref)
            color = DANGER if under and counts[i, j] else ACCENT if counts[i, j] and pred != ref else INK
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", color=color, fontsize=11,
                    fontweight="bold" if counts[i, j] else "normal")
    ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns])
    ax.set_yticks(range(len(matrix.index)), [str(r) for r in matrix.index])
    ax.set_xlabel("predicted ESI (none = no level given)")
    ax.set_ylabel("reference ESI")
    ax.set_title(title, fontsize=10, loc="left")
    return _png(fig)


def reliability(confidence: np.ndarray, correct: np.ndarray, title: str, bins: int = ECE_BINS) -> bytes:
    """Accuracy against mean confidence per equal-width bin (the ECE's bins), with bin counts below."""
    idx = np.minimum((confidence * bins).astype(int), bins - 1)
    used = np.unique(idx)
    conf = np.array([confidence[idx == b].mean() for b in used])
    acc = np.array([correct[idx == b].mean() for b in used])
    count = np.array([(idx == b).sum() for b in used])
    fig = Figure(figsize=(5.6, 5.4))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], color=GRID, linestyle="--", label="perfect calibration")
    top.bar((used + 0.5) / bins, acc, width=0.9 / bins, color=ACCENT, alpha=0.35, label="accuracy per bin")
    top.plot(conf, acc, "o-", color=ACCENT, markersize=4, label="accuracy at mean confidence")
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(fontsize=8, loc="upper left")
    top.set_title(title, fontsize=10, loc="left")
    bottom.bar((used + 0.5) / bins, count, width=0.9 / bins, color=INK)
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence (probability of the most likely option)")
    bottom.set_ylabel("answers")
    return _png(fig)
