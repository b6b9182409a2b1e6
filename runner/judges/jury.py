"""A jury's verdicts and how far its judges agree, from the judgments alone. Pure.

Per item (one question about one reply): the majority of the judges' parsed verdicts (a tie, or no
parsed verdict, is no verdict); per reply, the mean of the judges' own rubric scores. Agreement
between judges: Krippendorff's alpha (nominal; an unparsed verdict is a missing value, so judges
need not all answer every item). Agreement with the rule grader: the share of items alike and
Cohen's kappa, per judge and for the jury."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Sequence

import numpy as np
import pandas as pd

from runner.judges.panel import Judgment
from runner.runs.metrics import cohen_kappa, wilson

ITEM = ["kind", "item"]


def table(judgments: Sequence[Judgment], keys: Sequence[str]) -> pd.DataFrame:
    """One row per judgment, its row tuple spread into the `keys` columns."""
    rows = [{**dict(zip(keys, j.row)), **{k: v for k, v in asdict(j).items() if k != "row"}} for j in judgments]
    return pd.DataFrame(rows, columns=[*keys, *[k for k in Judgment.__dataclass_fields__ if k != "row"]])


def majority(values: Sequence) -> object | None:
    """The most common of the parsed values, when strictly more common than any other; else None."""
    counts = Counter(v for v in values if v is not None and v == v).most_common(2)
    if not counts or (len(counts) == 2 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def verdicts(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """One row per item: the rule grader's verdict, the jury's (None: no majority), the votes."""
    rows = []
    for group_key, group in frame.groupby([*keys, *ITEM], sort=True, dropna=False):
        parsed = group["value"].dropna().tolist()
        rows.append({**dict(zip([*keys, *ITEM], group_key)), "subject": group["subject"].iloc[0],
                     "rule": group["rule"].iloc[0],
                     "jury": majority(parsed),
                     "jury_safety_net": majority(group.loc[group["value"].notna(), "safety_net"].tolist()),
                     "judges": len(group), "parsed": len(parsed),
                     "votes": ", ".join(f"{j}: {v if v is not None else 'unparsed'}"
                                        for j, v in zip(group["judge"], group["value"]))})
    return pd.DataFrame(rows, columns=[*keys, *ITEM, "subject", "rule", "jury", "jury_safety_net", "judges", "parsed", "votes"])


def alpha(frame: pd.DataFrame, keys: Sequence[str]) -> dict:
    """Krippendorff's alpha (nominal) among the judges over the items; None with fewer than two judges."""
    import krippendorff

    judges = sorted(frame["judge"].unique())
    if len(judges) < 2:
        return {"alpha": None, "judges": len(judges), "items": 0, "note": "one judge: no inter-judge agreement"}
    wide = frame.pivot_table(index=[*keys, *ITEM], columns="judge", values="value", aggfunc="first")
    wide = wide[wide.notna().sum(axis=1) >= 2]  # items at least two judges answered
    if wide.empty:
        return {"alpha": None, "judges": len(judges), "items": 0, "note": "no item has two parsed verdicts"}
    labels = {v: n for n, v in enumerate(sorted(set(wide.stack().dropna())))}
    data = wide.T.apply(lambda col: col.map(labels)).to_numpy(dtype=float)
    if len(labels) < 2:
        return {"alpha": None, "judges": len(judges), "items": len(wide),
                "note": "every judge gave every item the same verdict: alpha is undefined"}
    return {"alpha": float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")),
            "judges": len(judges), "items": len(wide)}


def versus_rule(values: pd.Series, rule: pd.Series) -> dict:
    """How often a grader's parsed verdicts equal the rule grader's, and Cohen's kappa between them."""
    mask = values.notna().to_numpy()
    a, b = values[mask].astype(str).to_numpy(), rule[mask].astype(str).to_numpy()
    kappa = cohen_kappa(a, b)
    return {"agreement": wilson(int((a == b).sum()), len(a)), "kappa": None if kappa != kappa else kappa,
            "unparsed": int((~mask).sum())}


def agreement(frame: pd.DataFrame, found: pd.DataFrame, keys: Sequence[str]) -> dict:
    """Per kind of question: items, inter-judge alpha, and each judge's and the jury's agreement with
    the rule grader."""
    out = {}
    for kind, part in frame.groupby("kind"):
        items = found[found["kind"] == kind]
        out[kind] = {"items": len(items), "inter_judge": alpha(part, keys),
                     "vs_rule": {**{judge: versus_rule(g["value"], g["rule"]) for judge, g in part.groupby("judge")},
                                 "jury": versus_rule(items["jury"], items["rule"])}}
    return out


def disagreements(found: pd.DataFrame) -> pd.DataFrame:
    """Items where the jury reached a verdict and it is not the rule grader's."""
    return found[found["jury"].notna() & (found["jury"].astype(str) != found["rule"].astype(str))]


def rubric_scores(frame: pd.DataFrame, keys: Sequence[str]) -> dict[tuple, float]:
    """Per reply: the mean over judges of each judge's rubric score (points of criteria it finds met /
    positive points), counting only judges that parsed every criterion of the reply."""
    criteria = frame[frame["kind"] == "criterion"]
    out = {}
    for row, part in criteria.groupby(list(keys), sort=False):
        scores = []
        for _, mine in part.groupby("judge"):
            if mine["value"].notna().all():
                positive = mine.loc[mine["points"] > 0, "points"].sum()
                scores.append(mine.loc[mine["value"] == "met", "points"].sum() / positive)
        if scores:
            out[row] = float(np.mean(scores))
    return out


def statement_shares(found: pd.DataFrame, keys: Sequence[str]) -> dict[tuple, dict[str, float]]:
    """Per document: the share of its statements the jury labels invented, and stale (of those it labels)."""
    out = {}
    for row, part in found[(found["kind"] == "statement") & found["jury"].notna()].groupby(list(keys), sort=False):
        out[row] = {
            "jury_invented_statements": float((part["jury"] == "invented").mean()),
            "jury_stale_statements": float((part["jury"] == "stale").mean())}
    return out
