"""The jury step of eval, score and rescore (`--judge CARD`, repeatable): every clean reply's judge
questions (tasks declare them: rubric criteria, the disposition of a patient reply, a document's
statements) put to each judge, then the jury's verdicts, its agreement and its disagreements with
the rule grader. Perturbed twins are not judged."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from runner import tasks
from runner.completions.cache import Cache
from runner.engines.base import Completion
from runner.judges import jury, panel
from runner.pipeline.config import EvalConfig
from runner.pipeline.plan import Planned

KEYS = ["scenario_id", "instance_id", "seed"]


@dataclass
class JuryResult:
    judgments: pd.DataFrame   # one row per judge x question
    verdicts: pd.DataFrame    # one row per question: rule, jury, votes, disagreement
    summary: dict             # judges, counts, agreement: for summary.json, the report and the terminal
    rows: dict[tuple, dict]   # per reply: what the jury metrics are computed from (see pipeline.score)


def asks(planned: list[Planned], completions: dict[str, Completion]) -> list[panel.Ask]:
    out = []
    for p in planned:
        kind = tasks.get(p.scenario.task)
        if p.perturbation is not None or kind.judge is None:
            continue
        text = completions[p.request.key].text
        out += [panel.Ask((p.scenario.id, p.instance.id, p.seed), q, p.user, text) for q in kind.judge(p.instance, text)]
    return out


def per_row(found: pd.DataFrame, frame: pd.DataFrame) -> dict[tuple, dict]:
    rows: dict[tuple, dict] = {}
    for row, score in jury.rubric_scores(frame, KEYS).items():
        rows.setdefault(row, {})["jury_rubric_score"] = score
    for row, shares in jury.statement_shares(found, KEYS).items():
        rows.setdefault(row, {}).update(shares)
    for r in found[found["kind"] == "disposition"].to_dict("records"):
        if r["jury"] is not None:
            rows.setdefault(tuple(r[k] for k in KEYS), {})["disposition"] = (r["jury"], bool(r["jury_safety_net"]))
    return rows


def summarize(frame: pd.DataFrame, found: pd.DataFrame, described: list[dict], model_fingerprint: str | None) -> dict:
    self_judged = [d["card"] for d in described if d["fingerprint"] == model_fingerprint]
    return {"judges": described, "self_judged": self_judged,
            "questions": {k: int(n) for k, n in found["kind"].value_counts().sort_index().items()},
            "unparsed": {d["card"]: {"n": d["counts"]["questions"], "unparsed": d["counts"]["unparsed"],
                                     "rate": d["counts"]["unparsed"] / max(d["counts"]["questions"], 1)}
                         for d in described},
            "agreement": jury.agreement(frame, found, KEYS),
            "disagreements": int(found["disagrees"].sum())}


def check_judges(config: EvalConfig, model_fingerprint: str | None) -> None:
    """Refuse a bad judge (unknown card, missing weights or engine, the model under test unasked) before
    any run folder is made or any token generated."""
    if config.judges:
        panel.resolve(config.judges, config.engine, model_fingerprint, config.allow_self_judge)


def judge_run(config: EvalConfig, planned: list[Planned], completions: dict[str, Completion],
              model_fingerprint: str | None) -> JuryResult | None:
    """The jury's work on a run, or None when no judge is given."""
    if not config.judges:
        return None
    t0 = time.perf_counter()
    judges = panel.load(config.judges, config.engine, config.engine_options, model_fingerprint,
                        config.allow_self_judge)
    cache = Cache(config.cache_path())
    try:
        judgments, described = panel.judge_all(judges, asks(planned, completions), cache, config.judge_tries,
                                               config.quiet)
    finally:
        cache.close()
    frame = jury.table(judgments, KEYS)
    found = jury.verdicts(frame, KEYS)
    found["disagrees"] = found.index.isin(jury.disagreements(found).index)
    summary = summarize(frame, found, described, model_fingerprint)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return JuryResult(frame, found, summary, per_row(found, frame))
