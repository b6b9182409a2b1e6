"""The judges' part of a report and of the terminal summary: who judged, how often they could not be
read, how far they agree with each other and with the rule grader, and where the jury and the rule
grader disagree (those items go first into `medrun review export`)."""

from __future__ import annotations

import pandas as pd

from runner.reports.document import Section, Table, Text, interval, number
from runner.runs.folder import RunFolder

SHOWN_DISAGREEMENTS = 40


def _num(x: float | None) -> str:
    return number(x) or "-"


def _share(r: dict) -> str:
    return "-" if not r["n"] else f"{r['value']:.1%} ({interval(r['ci_low'], r['ci_high'])}; {r['k']}/{r['n']})"


def jury_lines(judges: dict) -> list[str]:
    """A few lines for the terminal: the judges, unparsed rates, agreement per kind of question."""
    names = ", ".join(d["card"] for d in judges["judges"])
    lines = [f"judges: {names} (prompt version {judges['judges'][0]['prompt_version']}); "
             + "; ".join(f"{card} unparsed {u['unparsed']}/{u['n']}" for card, u in judges["unparsed"].items())]
    if judges["self_judged"]:
        lines.append(f"SELF-JUDGED: {', '.join(judges['self_judged'])} (the weights of the model under test) graded "
                     "its own replies (--allow-self-judge)")
    for kind, a in judges["agreement"].items():
        jury = a["vs_rule"]["jury"]
        lines.append(f"  {kind}: {a['items']} questions; inter-judge alpha {_num(a['inter_judge']['alpha'])}; "
                     f"jury vs rule grader {_share(jury['agreement'])}, kappa {_num(jury['kappa'])}")
    lines.append(f"  {judges['disagreements']} questions where the jury and the rule grader disagree (jury.parquet; "
                 "first in `medrun review export`)")
    return lines


def judges_section(run: RunFolder) -> Section | None:
    judges = run.summary.get("judges")
    if not judges:
        return None
    blocks: list = []
    if judges["self_judged"]:
        blocks.append(Text(f"Self-judged: the judge(s) {', '.join(judges['self_judged'])} have the weights of the model "
                           "under test and graded its own replies (--allow-self-judge); such verdicts are likely biased "
                           "in the model's favour.", "alert"))
    blocks.append(Text("Judges grade each rubric criterion (met / not met), the disposition of each patient reply and "
                       "each statement of a document (supported / stale / invented), answering in JSON with a quote "
                       "of the reply; a verdict without valid JSON or with a quote not in the reply after every try "
                       "is unparsed. The jury's verdict is the majority of parsed verdicts (a tie is no verdict); "
                       "its rubric score is the mean of the judges'. The safety verdicts above stay the rule "
                       "grader's; the jury is a second reading whose disagreements are listed for review."))
    blocks.append(Table(pd.DataFrame([{
        "judge": d["card"], "weights (sha256)": d["fingerprint"][:16], "engine": d["engine"].get("engine", ""),
        "prompt version": d["prompt_version"], "questions": d["counts"]["questions"],
        "unparsed": f"{d['counts']['unparsed']} ({d['counts']['unparsed'] / max(d['counts']['questions'], 1):.1%})",
        "prompts from cache": d["counts"]["from_cache"], "prompts generated": d["counts"]["generated"]}
        for d in judges["judges"]]), "Judges"))
    rows = []
    for kind, a in judges["agreement"].items():
        alpha = a["inter_judge"]
        for grader, r in a["vs_rule"].items():
            rows.append({"question": kind, "items": a["items"],
                         "inter-judge alpha": _num(alpha["alpha"]),
                         "grader": grader, "agrees with rule grader": _share(r["agreement"]),
                         "kappa": _num(r["kappa"]), "unparsed": r["unparsed"]})
    blocks.append(Table(pd.DataFrame(rows), "Agreement: among judges (Krippendorff's alpha, nominal) and with the "
                                            "rule grader (share alike, Cohen's kappa)"))
    jury = run.jury
    if jury is not None and jury["disagrees"].any():
        shown = jury[jury["disagrees"]].head(SHOWN_DISAGREEMENTS)
        blocks.append(Table(pd.DataFrame({
            "scenario": shown["scenario_id"], "instance": shown["instance_id"], "question": shown["kind"],
            "about": shown["subject"].map(lambda s: s if len(s) <= 90 else s[:90] + " ..."),
            "rule grader": shown["rule"], "jury": shown["jury"], "votes": shown["votes"]}),
            f"Jury and rule grader disagree: {int(jury['disagrees'].sum())} questions (first "
            f"{min(SHOWN_DISAGREEMENTS, int(jury['disagrees'].sum()))} shown)"))
    return Section("Judges and jury", blocks)
