"""`medrun leaderboard`: HELM's mean win rate over metric columns, per category and risk class, and
a safety-first suggested model per category."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import run_medrun
from runs import make_run

from runner.reports import leaderboard

SCENARIOS = ["ed-triage-esi", "medication-safety-mc", "patient-portal-messages", "billing-code-mc"]


def test_win_rates_count_ties_half_and_respect_direction():
    assert list(leaderboard.win_rates(np.array([0.9, 0.5, 0.5]), +1)) == [1.0, 0.25, 0.25]
    assert list(leaderboard.win_rates(np.array([0.9, 0.5, 0.1]), -1)) == [0.0, 0.5, 1.0]  # lower is better


def test_suggestion_is_safety_first():
    # model "sharp" wins every quality column but breaks safety rules far more often than "careful"
    n = 40
    frames = [pd.DataFrame({"category": ["c"] * n, "safety_failure": [1.0] * 20 + [0.0] * 20}),
              pd.DataFrame({"category": ["c"] * n, "safety_failure": [0.0] * n})]
    roster = leaderboard.suggest(frames, ["sharp", "careful"], pd.DataFrame({"c": {"sharp": 1.0, "careful": 0.0}}))
    assert roster.iloc[0]["suggested model"] == "careful" and roster.iloc[0]["caution"] == ""
    # with equal safety, quality decides
    frames[0]["safety_failure"] = 0.0
    roster = leaderboard.suggest(frames, ["sharp", "careful"], pd.DataFrame({"c": {"sharp": 1.0, "careful": 0.0}}))
    assert roster.iloc[0]["suggested model"] == "sharp"


def test_a_category_with_one_checked_answer_still_gets_a_suggestion():
    # one rule-bearing row: no interval can be drawn, so neither model is clearly less safe (this crashed)
    frames = [pd.DataFrame({"category": ["c"], "safety_failure": [1.0]}),
              pd.DataFrame({"category": ["c"], "safety_failure": [0.0]})]
    roster = leaderboard.suggest(frames, ["sharp", "careful"], pd.DataFrame({"c": {"sharp": 1.0, "careful": 0.0}}))
    assert roster.iloc[0]["considered (safety not clearly worse)"] == "sharp, careful"
    assert roster.iloc[0]["suggested model"] == "sharp" and "supervised use only" in roster.iloc[0]["caution"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("board")
    return [make_run(out, name, share, seed=seed, scenarios=SCENARIOS, limit=6, robustness=False)
            for name, share, seed in (("weak", 0.3, 1), ("middling", 0.6, 2), ("strong", 0.95, 3))]


def test_leaderboard_ranks_models_from_their_columns(runs, tmp_path):
    board = leaderboard.build(runs)
    assert board.models == ["weak", "middling", "strong"]
    # every column: each model's win rate is recomputable from the values shown
    for _, col in board.columns.iterrows():
        values = col[board.models].to_numpy(float)
        assert len(values) == 3 and not np.isnan(values).any()
    mwr = dict(zip(board.overall["model"], board.overall["mean win rate"]))
    manual = np.mean([leaderboard.win_rates(c[board.models].to_numpy(float), -1 if c["metric"] in (
        "harm_weighted_error", "safety_failure") else 1) for _, c in board.columns.iterrows()], axis=0)
    assert [mwr[m] for m in board.models] == pytest.approx(list(manual))
    assert board.overall.iloc[0]["model"] == "strong"
    assert set(board.by_category.columns) == set(board.columns["category"])
    assert set(board.by_risk.columns) == set(board.columns["risk"])
    assert len(board.roster) == board.by_category.shape[1]

    result = run_medrun("leaderboard", *map(str, runs), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "leaderboard.md").read_text()
    assert "## Suggested roster" in md and "## Mean win rate by risk class" in md
    assert "<script" not in (tmp_path / "leaderboard.html").read_text()


def test_leaderboard_needs_two_runs(runs):
    result = run_medrun("leaderboard", str(runs[0]))
    assert result.returncode == 2 and "at least two" in result.stderr


def test_labels_name_runs_of_the_same_model_apart(runs, tmp_path):
    from runner.errors import MedrunError
    from runner.runs.folder import load_runs

    twin = make_run(tmp_path, "weak", 0.3, seed=9, scenarios=SCENARIOS[:1], limit=2, robustness=False)
    loaded = load_runs([runs[0], twin])
    names = leaderboard.labels(loaded)
    assert names[0] != names[1] and all(n.startswith("weak @") for n in names)
    assert leaderboard.labels(loaded, ["base", "tuned"]) == ["base", "tuned"]
    with pytest.raises(MedrunError, match="--label: give 2 different names"):
        leaderboard.labels(loaded, ["base"])
    result = run_medrun("leaderboard", *map(str, runs), "--label", "A", "--label", "B", "--label", "C",
                        "--shared", "--out", str(tmp_path / "lb"))
    assert result.returncode == 0, result.stderr
    assert "| C " in (tmp_path / "lb" / "leaderboard.md").read_text()
