"""Blinded clinician review: stratified export, blinding, import of filled sheets, agreement statistics.
Run folders are real (answers scored through the real scorers by `make_run`); raters' files are written
from the key, so every expected kappa is known by hand."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import run_medrun
from runs import make_run

from runner.errors import MedrunError
from runner.reports.review import import_ratings
from runner.runs.folder import load_run
from runner.runs.metrics import cohen_kappa

SCENARIOS = ["ed-triage-esi", "patient-portal-messages", "medication-safety-mc", "bedside-calculations"]
SHEET_COLUMNS = ["review_id", "scenario", "task", "question", "reference", "answer", "acceptable", "harm", "rater",
                 "comment"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("runs")
    return [make_run(out, "model-a", 0.6, seed=1, scenarios=SCENARIOS, limit=6),
            make_run(out, "model-b", 0.4, seed=2, scenarios=SCENARIOS, limit=6)]


def export(*args: str) -> Path:
    done = run_medrun("review", "export", *args)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.split("review folder: ")[1].splitlines()[0])


def key_of(folder: Path) -> dict:
    return json.loads((folder / "key.json").read_text())


def stratum(item: dict) -> tuple:
    return item["run"], item["scenario_id"], item["tag_acuity"], item["passed"], item["safety_failure"] == 1


def clean_strata(run: Path) -> set[tuple]:
    rows = load_run(run).scores
    rows = rows[rows["perturbation"].isna()]
    return {(str(run.resolve()), r.scenario_id, r.tag_acuity, r.passed, r.safety_failure == 1) for r in rows.itertuples()}


def test_export_covers_every_stratum_and_is_deterministic(runs, tmp_path):
    strata = clean_strata(runs[0])
    assert len(strata) >= 8  # the fixture must have enough variety for this test to mean something
    a = export(str(runs[0]), "--n", str(len(strata)), "--out", str(tmp_path / "a"))
    items = key_of(a)["items"]
    assert sorted(map(stratum, items)) == sorted(strata)  # each stratum exactly once
    assert all(i["scenario_id"] in SCENARIOS and "--" not in i["instance_id"] for i in items)  # clean rows only

    b = export(str(runs[0]), "--n", str(len(strata)), "--out", str(tmp_path / "b"))
    c = export(str(runs[0]), "--n", str(len(strata)), "--seed", "1", "--out", str(tmp_path / "c"))
    assert (a / "sample.csv").read_bytes() == (b / "sample.csv").read_bytes()
    assert key_of(a)["items"] == key_of(b)["items"]
    assert [i["instance_id"] for i in key_of(c)["items"]] != [i["instance_id"] for i in items]

    default = export(str(runs[0]), "--n", "1000")  # more than there are rows: all of them, in RUN/review
    assert default == runs[0] / "review" and key_of(default)["n"] == len(load_run(runs[0]).scores.query("perturbation.isna()"))
    again = run_medrun("review", "export", str(runs[0]))
    assert again.returncode == 2 and "key.json" in again.stderr and "already holds a review export" in again.stderr


def test_round_robin_fills_strata_evenly(runs, tmp_path):
    folder = export(*map(str, runs), "--n", "30", "--out", str(tmp_path / "mixed"))
    key = key_of(folder)
    counts = {stratum({**s, "safety_failure": 1 if s["safety_flag"] else 0}): s for s in key["strata"]}
    assert sum(s["sampled"] for s in counts.values()) == key["n"] == 30
    top = max(s["sampled"] for s in counts.values())
    # A stratum two or more behind the fullest must have run out of rows.
    assert all(s["sampled"] == s["available"] for s in counts.values() if s["sampled"] < top - 1)
    assert min(s["sampled"] for s in counts.values()) >= 1
    first_round = [stratum(i) for i in key["items"][:len(counts)]]
    assert len(set(first_round)) < len(counts)  # shuffled after the draw: the order does not replay the rounds
    taken = pd.Series([stratum(i) for i in key["items"]]).value_counts()
    assert all(taken[k] == s["sampled"] for k, s in counts.items() if s["sampled"])


def test_sample_is_blinded(runs, tmp_path):
    missing_out = run_medrun("review", "export", *map(str, runs))
    assert missing_out.returncode == 2 and "--out" in missing_out.stderr

    folder = export(*map(str, runs), "--n", "40", "--out", str(tmp_path / "blind"))
    csv = pd.read_csv(folder / "sample.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    xlsx = pd.read_excel(folder / "sample.xlsx", dtype=str).fillna("")
    assert list(csv.columns) == SHEET_COLUMNS and len(csv) == 40
    pd.testing.assert_frame_equal(csv, xlsx)
    assert (csv[["acceptable", "harm", "rater", "comment"]] == "").all().all()

    secrets = ["model-a", "model-b", "external:", *(p.name for p in runs), *(str(p) for p in runs)]
    book = openpyxl.load_workbook(folder / "sample.xlsx")
    cells = " ".join(str(c.value) for row in book.active.iter_rows() for c in row)
    for text in (folder / "sample.csv").read_text(encoding="utf-8-sig"), cells:
        assert not any(s in text for s in secrets)
    assert book.active.freeze_panes == "A2" and len(book.active.data_validations.dataValidation) == 2

    items = key_of(folder)["items"]
    assert [i["review_id"] for i in items] == [f"R{k:04d}" for k in range(1, 41)] == list(csv.review_id)
    passed, models = [i["passed"] for i in items], [i["model"] for i in items]
    assert passed not in (sorted(passed), sorted(passed, reverse=True))
    assert models not in (sorted(models), sorted(models, reverse=True))
    assert {"README.txt", "key.json"} <= {p.name for p in folder.iterdir()}


def hand_kappa(pairs: list[tuple[int, int]]) -> float:
    """Kappa from the 2x2 counts, written out independently of runner.metrics."""
    n = len(pairs)
    both_yes = sum(1 for a, b in pairs if a and b)
    both_no = sum(1 for a, b in pairs if not a and not b)
    a_yes, b_yes = sum(a for a, _ in pairs), sum(b for _, b in pairs)
    po = (both_yes + both_no) / n
    pe = (a_yes / n) * (b_yes / n) + (1 - a_yes / n) * (1 - b_yes / n)
    return (po - pe) / (1 - pe)


def fill(items: list[dict], flip: set[int], rated: range) -> pd.DataFrame:
    """A rater who agrees with the automatic score except on the items at positions in `flip`."""
    rows = []
    for k in rated:
        item = items[k]
        verdict = bool(item["passed"]) != (k in flip)
        rows.append({"review_id": item["review_id"], "acceptable": "Yes" if verdict else "no",
                     "harm": min(item["severity"] + (k % 3 == 0), 4), "comment": ""})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def review(runs, tmp_path_factory) -> Path:
    # copies of the runs, so that no other test's single-run review sits in their review/ folders
    fresh = tmp_path_factory.mktemp("fresh")
    copies = [shutil.copytree(r, fresh / r.name, ignore=shutil.ignore_patterns("review")) for r in runs]
    folder = tmp_path_factory.mktemp("review")
    done = run_medrun("review", "export", *map(str, copies), "--n", "40", "--out", str(folder))
    assert done.returncode == 0, done.stderr
    return folder


def test_import_two_raters_reports_known_kappa(review, tmp_path):
    items = key_of(review)["items"]
    anna = fill(items, flip={0, 1, 2}, rated=range(30)).assign(rater="anna")
    ben = fill(items, flip={15, 20, 35}, rated=range(10, 40))  # no rater column: named after the file
    anna.to_csv(tmp_path / "anna_ratings.csv", index=False)
    ben.to_excel(tmp_path / "ben.xlsx", index=False)

    done = run_medrun("review", "import", str(review), str(tmp_path / "anna_ratings.csv"), str(tmp_path / "ben.xlsx"))
    assert done.returncode == 0, done.stderr
    assert "kappa" in done.stdout and str(review / "agreement.json") in done.stdout
    result = json.loads((review / "agreement.json").read_text())

    auto = [int(i["passed"]) for i in items]
    pairs = [(auto[k] ^ (k in {0, 1, 2}), auto[k]) for k in range(30)]
    pairs += [(auto[k] ^ (k in {15, 20, 35}), auto[k]) for k in range(10, 40)]
    assert result["raters"] == ["anna", "ben"] and result["ratings"] == 60 and result["items"] == 40
    assert result["kappa"]["n"] == 60
    assert result["kappa"]["value"] == pytest.approx(hand_kappa(pairs))
    assert result["kappa"]["ci_low"] <= result["kappa"]["value"] <= result["kappa"]["ci_high"] <= 1
    assert result["observed_agreement"] == pytest.approx(54 / 60)
    table = {r["clinician"]: r for r in result["table"]}
    assert sum(r["automatic_pass"] + r["automatic_fail"] for r in result["table"]) == 60
    assert table["acceptable"]["automatic_pass"] == sum(1 for c, a in pairs if c and a)
    assert table["not acceptable"]["automatic_pass"] == sum(1 for c, a in pairs if not c and a)

    (inter,) = result["inter_rater"]
    shared = [(auto[k] ^ (k in {0, 1, 2}), auto[k] ^ (k in {15, 20, 35})) for k in range(10, 30)]
    assert inter["raters"] == ["anna", "ben"] and inter["items"] == 20
    assert inter["value"] == pytest.approx(hand_kappa(shared))

    harm_up = [k for k in [*range(30), *range(10, 40)] if k % 3 == 0 and items[k]["severity"] < 4]
    assert result["harm"]["n"] == 60
    assert result["harm"]["mean_abs_difference"] == pytest.approx(len(harm_up) / 60)
    assert result["harm"]["clinician_higher"] == pytest.approx(len(harm_up) / 60)

    by_run = {r["model"]: r for r in result["by_run"]}
    assert set(by_run) == {"model-a", "model-b"} and sum(r["kappa"]["n"] for r in by_run.values()) == 60
    ratings = pd.read_parquet(review / "ratings.parquet")
    assert len(ratings) == 60 and {"model", "run", "passed", "severity", "instance_id"} <= set(ratings.columns)
    # merged back: each run folder gets its own ratings and agreement, which its report shows
    assert sorted(result["merged_into"]) == sorted(str(Path(r["run"]) / "review") for r in result["by_run"])
    for r in result["by_run"]:
        own = json.loads((Path(r["run"]) / "review" / "agreement.json").read_text())
        assert own["ratings"] == r["kappa"]["n"] and own["kappa"]["value"] == pytest.approx(r["kappa"]["value"])
        assert len(pd.read_parquet(Path(r["run"]) / "review" / "ratings.parquet")) == r["kappa"]["n"]


def write_sheet(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("row, message", [
    ({"acceptable": "maybe", "harm": ""}, r"bad\.csv: row 3, column acceptable: 'maybe' is not yes or no"),
    ({"acceptable": "yes", "harm": "5"}, r"bad\.csv: row 3, column harm: '5' is not a whole number 0-4"),
    ({"review_id": "R9999", "acceptable": "no", "harm": ""}, r"bad\.csv: row 3, column review_id: 'R9999' is not in key\.json"),
])
def test_bad_cells_name_file_row_and_column(review, tmp_path, row, message):
    good = {"review_id": "R0001", "acceptable": "yes", "harm": "0", "rater": "anna"}
    path = write_sheet(tmp_path / "bad.csv", [good, {**good, "review_id": "R0002", **row}])
    with pytest.raises(MedrunError, match=message):
        import_ratings(review, [path])


def test_duplicates_missing_columns_and_blank_rows(review, tmp_path):
    one = write_sheet(tmp_path / "one.csv", [{"review_id": "R0001", "acceptable": "y", "harm": "", "rater": "anna"}])
    two = write_sheet(tmp_path / "two.csv", [{"review_id": "R0002", "acceptable": "", "harm": "", "rater": "anna"},
                                             {"review_id": "R0001", "acceptable": "n", "harm": "1", "rater": "anna"}])
    done = run_medrun("review", "import", str(review), str(one), str(two))
    assert done.returncode == 2 and "two.csv: row 3" in done.stderr and "one.csv row 2" in done.stderr
    assert "rated R0001 again" in done.stderr

    no_harm = tmp_path / "no_harm.csv"
    pd.DataFrame([{"review_id": "R0001", "acceptable": "yes"}]).to_csv(no_harm, index=False)
    with pytest.raises(MedrunError, match=r"no_harm\.csv: missing column\(s\) harm"):
        import_ratings(review, [no_harm])

    result = import_ratings(review, [two])  # the blank row is skipped, not an error
    assert result["ratings"] == 1 and result["raters"] == ["anna"]
    assert math.isnan(result["kappa"]["value"]) and result["notes"]  # one pair: chance agreement is 1


def test_cohen_kappa():
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == 1.0
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == -1.0
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))  # pe == 1
    assert math.isnan(cohen_kappa([], []))
    assert cohen_kappa([1, 1], [0, 0]) == 0.0  # pe == 0, po == 0
    # 50 items: both yes 20, a yes b no 5, a no b yes 10, both no 15 -> po 0.7, pe 0.5*0.6 + 0.5*0.4 = 0.5
    a = np.array([1] * 20 + [1] * 5 + [0] * 10 + [0] * 15)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15)
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        cohen_kappa([1, 0], [1])


def test_xlsx_keeps_text_that_looks_like_a_formula(tmp_path):
    from runner.reports.review import _write_xlsx

    sheet = pd.DataFrame([{"review_id": "R0001", "answer": "=SUM(A1:A3) is not a formula here", "acceptable": "",
                           "harm": ""}])
    _write_xlsx(sheet, tmp_path / "s.xlsx")
    cell = openpyxl.load_workbook(tmp_path / "s.xlsx").active["B2"]
    assert cell.data_type == "s" and cell.value == "=SUM(A1:A3) is not a formula here"



def test_csv_cells_that_would_run_as_formulas_are_made_inert():
    from runner.reports.review import _inert

    assert [_inert(v) for v in ("=HYPERLINK(\"x\")", "+1", "- aspirin", "@cmd", "Take 1 tablet", 3)] == [
        "'=HYPERLINK(\"x\")", "'+1", "'- aspirin", "'@cmd", "Take 1 tablet", 3]


def test_single_run_review_appears_in_its_report(runs, tmp_path):
    from runner.reports import report

    run = tmp_path / "run"
    shutil.copytree(runs[0], run, ignore=shutil.ignore_patterns("review"))  # other tests may have exported there
    folder = export(str(run), "--n", "20")
    assert folder == run / "review"
    items = key_of(folder)["items"]
    fill(items, flip={0, 1}, rated=range(len(items))).assign(rater="carla").to_csv(tmp_path / "c.csv", index=False)
    result = import_ratings(folder, [tmp_path / "c.csv"])
    section = next(s for s in report.build(load_run(run)).sections if s.title == "Clinician review")
    assert f"Cohen's kappa {result['kappa']['value']:.3f}" in section.blocks[0].text
    assert f"{len(items)} answers rated by 1 clinician(s)" in section.blocks[0].text


def test_a_run_with_its_own_review_is_not_overwritten(review, tmp_path):
    items = key_of(review)["items"]
    own = Path(items[0]["run"]) / "review"
    original = (own / "agreement.json").read_text() if (own / "agreement.json").exists() else None
    (own / "key.json").write_text("{}")  # as if this run had a single-run review export of its own
    try:
        fill(items, flip=set(), rated=range(10)).assign(rater="dana").to_csv(tmp_path / "d.csv", index=False)
        result = import_ratings(review, [tmp_path / "d.csv"])
        assert f"not merged into {own}: it holds a review export of its own" in result["notes"]
        assert str(own) not in result["merged_into"]
        after = (own / "agreement.json").read_text() if (own / "agreement.json").exists() else None
        assert after == original
    finally:
        (own / "key.json").unlink()
