"""Blinded clinician review of run folders: export a stratified sample, import the ratings, measure agreement.

Works on run folders alone (no model is loaded). The sample the raters see hides which model answered and
how it was scored; key.json, for the coordinator only, maps each opaque review id back."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from runner.errors import MedrunError
from runner.runs import metrics
from runner.runs.files import atomic_write, now, write_json, write_table, write_text
from runner.runs.folder import RunFolder, load_runs, read_json

STRATA = ["run", "scenario_id", "tag_acuity", "passed", "safety_flag"]
SHOWN = ["review_id", "scenario", "task", "question", "reference", "answer"]
RATING_COLUMNS = ["acceptable", "harm", "rater", "comment"]
KEY_FIELDS = ["review_id", "run", "run_name", "model", "scenario_id", "instance_id", "seed", "tag_acuity", "passed",
              "severity", "safety_failure", "jury_disagrees"]
YES, NO = {"yes", "y", "1", "true"}, {"no", "n", "0", "false"}
HARM_HELP = ", ".join(f"{k} {v}" for k, v in metrics.SEVERITY_NAMES.items())
WIDTHS = {"review_id": 10, "scenario": 28, "task": 14, "question": 60, "reference": 24, "answer": 70,
          "acceptable": 12, "harm": 8, "rater": 14, "comment": 40}
README = """Blinded clinician review ({n} items, drawn {created})

Send to clinicians: sample.xlsx (or sample.csv). Nothing in them names the model or its automatic score.
Keep to yourself: key.json (maps each review_id to the run, model and automatic score).

Clinicians fill, per row: acceptable (yes/no), harm (0-4: {harm}), rater (their name; else the file
name is used), comment. Blank rows count as not rated.

Then: medrun review import {folder} FILLED_FILE... (CSV or XLSX, one per clinician or one with a rater
column). It writes ratings.parquet and agreement.json (Cohen's kappa against the automatic pass/fail).
"""


def _inert(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe in the CSV."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _plain(value: object) -> object:
    """numpy/pandas scalars as JSON-ready Python values; missing as None."""
    return None if pd.isna(value) else value.item() if hasattr(value, "item") else value


def _pool(run: RunFolder) -> pd.DataFrame:
    """Clean (unperturbed) rows of one run with what the sample and the key need."""
    rows = run.answers()
    rows = rows[rows["perturbation"].isna()].copy()
    rows["run"], rows["run_name"], rows["model"] = str(run.path.resolve()), run.name, run.model
    rows["scenario"] = rows["scenario_id"].map(run.title)
    rows["safety_flag"] = rows["safety_failure"] == 1
    disputed = set()
    if run.jury is not None:
        bad = run.jury[run.jury["disagrees"]]
        disputed = set(zip(bad["scenario_id"], bad["instance_id"], bad["seed"].astype(int)))
    rows["jury_disagrees"] = [k in disputed for k in zip(rows["scenario_id"], rows["instance_id"], rows["seed"].astype(int))]
    return rows.rename(columns={"user": "question", "expected": "reference", "text": "answer"})


def draw(pool: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, list[dict]]:
    """Round-robin over strata (each stratum shuffled, strata in a seeded order) until n rows, so every
    stratum gets one row before any gets two; then the rows in a shuffled order. Returns (rows, strata)."""
    rng = np.random.default_rng(seed)
    groups = sorted(pool[STRATA].astype(str).groupby(STRATA, sort=True).indices.items())
    shuffled = [rng.permutation(idx) for _, idx in groups]
    turn = rng.permutation(len(groups))  # a cut inside a round must not favour the first run alphabetically
    picked = [shuffled[g][depth] for depth in range(max(map(len, shuffled), default=0))
              for g in turn if depth < len(shuffled[g])][:n]
    taken = set(picked)
    strata = [{**{k: _plain(v) for k, v in pool.iloc[idx[0]][STRATA].items()}, "available": len(idx),
               "sampled": len(taken.intersection(idx))} for _, idx in groups]
    return pool.iloc[rng.permutation(picked)].reset_index(drop=True), strata


def _write_xlsx(sheet: pd.DataFrame, path: Path) -> None:
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        sheet.to_excel(writer, sheet_name="review", index=False)
        ws = writer.sheets["review"]
        ws.freeze_panes = "A2"
        letters = {name: get_column_letter(i + 1) for i, name in enumerate(sheet.columns)}
        for name, letter in letters.items():
            ws.column_dimensions[letter].width = WIDTHS.get(name, 16)
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                if cell.data_type == "f":  # an answer starting with "=" is text, not a formula
                    cell.data_type = "s"
        last = len(sheet) + 1
        for name, choices, prompt in (("acceptable", "yes,no", "yes or no"), ("harm", "0,1,2,3,4", HARM_HELP)):
            rule = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True, showInputMessage=True,
                                  promptTitle=name, prompt=prompt)
            rule.add(f"{letters[name]}2:{letters[name]}{last}")
            ws.add_data_validation(rule)


def disputed_first(pool: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, list[dict]]:
    """Answers where a jury and the rule grader disagree are taken first (a seeded choice of at most n);
    the stratified draw fills the rest of the sample from the other answers. The sample is then shuffled,
    so raters cannot tell which answers were disputed."""
    disputed = pool[pool["jury_disagrees"]]
    if disputed.empty:
        return draw(pool, n, seed)
    rng = np.random.default_rng(seed)
    first = disputed.iloc[rng.permutation(len(disputed))[:n]]
    rest, strata = draw(pool[~pool["jury_disagrees"]].reset_index(drop=True), n - len(first), seed)
    both = pd.concat([first, rest], ignore_index=True)
    return both.iloc[rng.permutation(len(both))].reset_index(drop=True), strata


def export(runs: list[Path], n: int = 60, seed: int = 0, out: Path | None = None) -> Path:
    """Write a blinded, stratified sample of clean answers (sample.csv, sample.xlsx), the coordinator's
    key.json and README.txt into `out` (default RUN/review for one run). Answers the jury and the rule
    grader disagree on come first. Returns the folder."""
    if n < 1:
        raise MedrunError(f"--n must be at least 1, got {n}.")
    if out is None and len(runs) != 1:
        raise MedrunError(f"{len(runs)} run folders given: pass --out DIR for the mixed sample's folder.")
    loaded = load_runs(runs)
    folder = Path(out) if out is not None else loaded[0].path / "review"
    if (folder / "key.json").exists():
        raise MedrunError(f"{folder / 'key.json'}: this folder already holds a review export, and ratings given out "
                          "for it would no longer match a new one. Pass another --out, or delete the folder first.")
    rows, strata = disputed_first(pd.concat([_pool(r) for r in loaded], ignore_index=True), n, seed)
    rows["review_id"] = [f"R{i:04d}" for i in range(1, len(rows) + 1)]
    sheet = rows[SHOWN].fillna("").assign(**{c: "" for c in RATING_COLUMNS})
    folder.mkdir(parents=True, exist_ok=True)
    # With a byte-order mark, Excel opens the CSV as UTF-8.
    atomic_write(folder / "sample.csv", lambda p: sheet.map(_inert).to_csv(p, index=False, encoding="utf-8-sig"))
    atomic_write(folder / "sample.xlsx", lambda p: _write_xlsx(sheet, p))
    items = [{k: _plain(v) for k, v in item.items()} for item in rows[KEY_FIELDS].to_dict("records")]
    write_json(folder / "key.json", {"created": now(), "n_requested": n, "seed": seed, "n": len(rows),
                                     "jury_disagreements_first": int(rows["jury_disagrees"].sum()),
                                     "runs": [{"run": str(r.path.resolve()), "run_name": r.name, "model": r.model}
                                              for r in loaded], "strata": strata, "items": items})
    text = README.format(n=len(rows), created=now(), harm=HARM_HELP, folder=folder)
    write_text(folder / "README.txt", text)
    return folder


def _cell(value: object) -> str:
    """A spreadsheet cell as lower-case text; whole numbers as '3' whether typed as 3, 3.0 or '3'."""
    text = "" if pd.isna(value) else str(value).strip()
    try:
        number = float(text)
        return str(int(number)) if number.is_integer() else text
    except ValueError:
        return text.lower()


def _read_sheet(path: Path, known: set[str]) -> pd.DataFrame:
    """One filled file as rows of (rater, review_id, acceptable 1/0/None, harm 0-4/None, comment, file, row)."""
    try:
        if path.suffix.lower() == ".csv":
            table = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False,
                                encoding="utf-8-sig")  # blank lines kept: row numbers match the sheet
        elif path.suffix.lower() in (".xlsx", ".xlsm"):
            table = pd.read_excel(path, dtype=str)
        else:
            raise MedrunError(f"{path}: expected a .csv or .xlsx file of ratings.")
    except FileNotFoundError:
        raise MedrunError(f"{path}: no such file.") from None
    except UnicodeDecodeError:
        raise MedrunError(f"{path}: not UTF-8 text. Save it as 'CSV UTF-8', or send the xlsx.") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("review_id", "acceptable", "harm") if c not in table.columns]
    if missing:
        raise MedrunError(f"{path}: missing column(s) {', '.join(missing)}. Use the header row of sample.csv/xlsx.")
    rows = []
    for i, record in enumerate(table.fillna("").to_dict("records")):
        where = f"{path}: row {i + 2}"  # the header is row 1
        acceptable, harm = _cell(record["acceptable"]), _cell(record["harm"])
        review_id = str(record["review_id"]).strip()
        if not acceptable and not harm:
            continue  # not rated
        if review_id not in known:
            raise MedrunError(f"{where}, column review_id: '{review_id}' is not in key.json. Keep the ids as exported.")
        if acceptable not in YES | NO | {""}:
            raise MedrunError(f"{where}, column acceptable: '{record['acceptable']}' is not yes or no.")
        if harm not in {"", "0", "1", "2", "3", "4"}:
            raise MedrunError(f"{where}, column harm: '{record['harm']}' is not a whole number 0-4 ({HARM_HELP}).")
        rows.append({"rater": str(record.get("rater", "")).strip() or path.stem, "review_id": review_id,
                     "acceptable": None if not acceptable else float(acceptable in YES),
                     "harm": None if not harm else float(harm), "comment": str(record.get("comment", "")).strip(),
                     "file": str(path), "row": i + 2})
    return pd.DataFrame(rows, columns=["rater", "review_id", "acceptable", "harm", "comment", "file", "row"])


def _kappa(frame: pd.DataFrame, a: str, b: str) -> dict:
    """Cohen's kappa between columns a and b with a 95% bootstrap interval over review items (clustered)."""
    groups = [g[[a, b]].to_numpy(float) for _, g in frame.groupby("review_id")]

    def stat(ids: np.ndarray) -> float:
        pairs = np.concatenate([groups[i] for i in ids]) if len(ids) else np.empty((0, 2))
        return metrics.cohen_kappa(pairs[:, 0], pairs[:, 1])

    with warnings.catch_warnings():  # resamples where kappa is undefined are left out of the interval
        warnings.simplefilter("ignore", RuntimeWarning)
        value, low, high = metrics.bootstrap(np.arange(len(groups)), stat)
    return {"value": value, "ci_low": low, "ci_high": high, "n": len(frame), "items": len(groups)}


def agreement(ratings: pd.DataFrame) -> dict:
    """Clinician acceptable vs automatic passed (each rating one pair), inter-rater kappa, harm vs severity, per run."""
    pairs = ratings.dropna(subset=["acceptable", "passed"])
    kappa = _kappa(pairs, "acceptable", "passed")
    table = [{"clinician": label, "automatic_pass": int(((pairs.acceptable == v) & (pairs.passed == 1)).sum()),
              "automatic_fail": int(((pairs.acceptable == v) & (pairs.passed == 0)).sum())}
             for label, v in (("acceptable", 1), ("not acceptable", 0))]
    undefined = ("kappa is undefined: no rated items, or clinicians and the automatic score each gave one and the "
                 "same label to every item (chance agreement = 1).")
    notes = [] if kappa["value"] == kappa["value"] else [undefined]
    votes = pairs.pivot_table(index="review_id", columns="rater", values="acceptable")
    inter = [{"raters": [a, b], **_kappa(votes[[a, b]].dropna().reset_index(), a, b)}
             for a, b in itertools.combinations(sorted(votes.columns), 2) if votes[[a, b]].dropna().size]
    harmed = ratings.dropna(subset=["harm", "severity"])  # means of empty series are nan
    by_run = [{"run": run, "run_name": g.run_name.iloc[0], "model": g.model.iloc[0],
               "kappa": _kappa(g, "acceptable", "passed"), "clinician_acceptable_rate": float(g.acceptable.mean()),
               "automatic_pass_rate": float(g.passed.mean())} for run, g in pairs.groupby("run")]
    return {"items": int(ratings.review_id.nunique()), "raters": sorted(ratings.rater.unique().tolist()),
            "ratings": len(ratings), "observed_agreement": float((pairs.acceptable == pairs.passed).mean()),
            "kappa": kappa, "table": table, "inter_rater": inter,
            "harm": {"n": len(harmed), "mean_abs_difference": float((harmed.harm - harmed.severity).abs().mean()),
                     "clinician_higher": float((harmed.harm > harmed.severity).mean())},
            "by_run": by_run, "notes": notes}


def import_ratings(folder: Path, ratings: list[Path]) -> dict:
    """Read filled CSV/XLSX files, check them, merge with key.json into ratings.parquet, and write and
    return agreement.json."""
    folder = Path(folder)
    if not (folder / "key.json").is_file():
        raise MedrunError(f"{folder}: no key.json here. Pass the folder that `medrun review export` wrote.")
    key = pd.DataFrame(read_json(folder / "key.json")["items"])
    rated = pd.concat([_read_sheet(Path(p), set(key.review_id)) for p in ratings], ignore_index=True)
    if rated.empty:
        raise MedrunError(f"{', '.join(map(str, ratings))}: no rated rows (acceptable and harm are blank everywhere).")
    twice = rated[rated.duplicated(["rater", "review_id"], keep=False)]
    if len(twice):
        second = twice[twice.duplicated(["rater", "review_id"])].iloc[0]
        first = twice[(twice.rater == second.rater) & (twice.review_id == second.review_id)].iloc[0]
        raise MedrunError(f"{second.file}: row {second.row}: rater '{second.rater}' rated {second.review_id} again "
                          f"(also {first.file} row {first.row}). Keep one rating per rater and item.")
    merged = rated.merge(key, on="review_id", how="left")
    write_table(folder / "ratings.parquet", merged)
    result = agreement(merged)
    result["merged_into"] = _merge_back(folder, merged, result["notes"])
    write_json(folder / "agreement.json", result)
    return result


def _merge_back(folder: Path, merged: pd.DataFrame, notes: list[str]) -> list[str]:
    """Each run's own ratings and agreement into RUN/review/, where its report finds them (a sample drawn
    from several runs lives elsewhere). Runs moved since the export, or with a review of their own, are
    left alone and said so in `notes`."""
    written = []
    for run, part in merged.groupby("run"):
        target = Path(run) / "review"
        if target.resolve() == folder.resolve():
            continue
        if not Path(run).is_dir() or (target / "key.json").exists():
            notes.append(f"not merged into {target}: " + ("the run folder has moved" if not Path(run).is_dir()
                                                         else "it holds a review export of its own"))
            continue
        target.mkdir(exist_ok=True)
        write_table(target / "ratings.parquet", part)
        write_json(target / "agreement.json", {**agreement(part), "sample": str(folder.resolve())})
        written.append(str(target))
    return written
