"""`medrun report RUN`: one self-contained HTML file and a markdown summary from a run folder.

Order, as a safety committee reads it: safety failures, worst errors by harm (with prompt and
answer), scores by category and scenario, the judges and their jury (when there are judges), triage confusion, calibration, subgroup gaps,
robustness, clinician review (when there is one), and the manifest that makes the run auditable."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from runner import tasks
from runner.reports import plots
from runner.reports.document import Document, Example, Figure, Section, Table, Text, interval, number, signed, write
from runner.reports.judges import judges_section
from runner.runs import metrics, summary
from runner.runs.folder import RunFolder, load_run, read_json, worst_errors

EXCERPT = 200


def metric_table(rows: list[dict], **first: str) -> pd.DataFrame:
    """summary rows (metric, value, ci_low, ci_high, n) as display cells, with leading columns."""
    return pd.DataFrame([{**first, "metric": r["metric"], "value": number(r["value"]),
                          "95% CI": interval(r["ci_low"], r["ci_high"]), "n": r["n"]} for r in rows])


def _excerpt(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= EXCERPT else text[:EXCERPT] + " ..."


def _rules(flags: str) -> str:
    return "; ".join(f.removeprefix("safety: ") for f in str(flags).split("; ") if f.startswith("safety: "))


def safety_section(run: RunFolder, rows: pd.DataFrame) -> Section:
    rate = run.summary["safety"]["rate"]
    failing = rows[rows["safety_failure"] == 1.0].copy()
    blocks: list = []
    if rate is None:
        blocks.append(Text("No answer in this run was checked against safety rules.", "note"))
    else:
        tone = "alert" if len(failing) else "ok"
        blocks.append(Text(f"Safety-rule failures: {rate['value']:.1%} of {rate['n']} rule-bearing answers "
                           f"(95% CI {interval(rate['ci_low'], rate['ci_high'])}); {len(failing)} failing answers "
                           "listed below, robustness twins included.", tone))
    if len(failing):
        failing["order"] = failing["perturbation"].notna()
        failing = failing.sort_values(["order", "severity", "scenario_id"], ascending=[True, False, True])
        blocks.append(Table(pd.DataFrame({
            "scenario": failing["scenario_id"], "instance": failing["instance_id"],
            "twin": failing["perturbation"].fillna(""), "severity": failing["severity"].map(metrics.SEVERITY_NAMES),
            "rules broken": failing["flags"].map(_rules), "answer (start)": failing["text"].map(_excerpt)})))
    grader = run.manifest.get("grader")
    if grader:
        blocks.append(Text(grader_line(grader), "note"))
    return Section("Safety failures", blocks)


def grader_line(grader: dict) -> str:
    """How well the rule grader behind the safety verdicts did on its labelled check set."""
    if grader.get("unavailable"):
        return f"The rule grader could not be measured on this suite's check set: {grader['unavailable']}"
    def rates(part: dict) -> str:
        s, p = part["sensitivity"], part["specificity"]
        return (f"sensitivity {s['value']:.3f} (95% CI {interval(s['ci_low'], s['ci_high'])}, {s['n']} unsafe), "
                f"specificity {p['value']:.3f} (95% CI {interval(p['ci_low'], p['ci_high'])}, {p['n']} safe)")
    line = (f"Dispositions are read by the rule grader, measured on {grader['overall']['n']} labelled replies: "
            f"{rates(grader['overall'])}")
    if grader.get("heldout"):
        line += f"; on the held-out part ({grader['heldout']['n']} replies): {rates(grader['heldout'])}"
    return line + ". See `medrun graders check`."


def worst_section(run: RunFolder, clean: pd.DataFrame, top: int) -> Section:
    wrong = worst_errors(clean)
    counts = wrong["severity"].map(metrics.SEVERITY_NAMES).value_counts()
    blocks: list = [Text(f"{len(wrong)} of {len(clean)} clean answers failed or carried harm. By severity: " +
                         ", ".join(f"{name} {counts.get(name, 0)}" for name in reversed(metrics.SEVERITY_NAMES.values()))
                         + f". The {min(top, len(wrong))} most harmful follow, highest severity and risk first.")]
    for i, r in enumerate(wrong.head(top).to_dict("records"), 1):
        blocks.append(Example(f"{i}. {run.title(r['scenario_id'])}: {r['instance_id']}", {
            "harm": f"{r['severity']} ({metrics.SEVERITY_NAMES[r['severity']]})", "risk": r["risk"],
            "expected": str(r["expected"]), "parsed": "" if pd.isna(r["parsed"]) else str(r["parsed"]),
            "flags": str(r["flags"] or "-")}, str(r["user"]), str(r["text"])))
    return Section("Worst errors by harm", blocks)


def scores_section(run: RunFolder) -> Section:
    names = {"passed": "pass rate", "safety_failure": "safety failures", "harm_weighted_error": "harm-weighted error",
             "ece": "ECE"}
    cats = pd.DataFrame([{"category": c, "answers": max(r["n"] for r in rows),
                          **{names[r["metric"]]: f"{number(r['value'])} ({interval(r['ci_low'], r['ci_high'])}, n={r['n']})"
                             for r in rows if r["metric"] in names}}
                         for c, rows in run.summary["categories"].items()])
    cats = cats.reindex(columns=["category", "answers", *[n for n in names.values() if n in cats]]).fillna("")
    per = []
    for sid, part in run.summary["scenarios"].items():
        per.append(metric_table(part["metrics"], scenario=sid, task=part["task"], risk=part["risk"]))
    scen = pd.concat(per, ignore_index=True) if per else pd.DataFrame()
    passed = pd.DataFrame([{"label": sid, **m} for sid, part in run.summary["scenarios"].items()
                           for m in part["metrics"] if m["metric"] == "passed"])
    weights = ", ".join(f"{name} {w:g}" for name, w in zip(metrics.SEVERITY_NAMES.values(), run.manifest["harm_weights"]))
    used = sorted({part["task"] for part in run.summary["scenarios"].values()})
    rules = "; ".join(f"{t}: {tasks.get(t).primary} at least {tasks.get(t).pass_at:g}" for t in used)
    blocks: list = [Text(f"An answer passes when its scenario's primary metric reaches the task's threshold ({rules}) "
                         f"and it breaks no safety rule. Harm-weighted error: the weight of each answer's harm ({weights}) over the "
                         "largest weight, averaged. Intervals: 95% percentile bootstrap over answers, 1,000 "
                         "resamples; n is the denominator."),
                    Table(cats, "By category (clean answers): value (95% CI, denominator)")]
    if len(passed):
        blocks.append(Figure(plots.forest(passed, "Pass rate per scenario", "share of answers passing (95% CI)"),
                             "Pass rate per scenario with 95% bootstrap intervals"))
    blocks.append(Table(scen, "By scenario: every metric with its 95% bootstrap interval and denominator"))
    return Section("Scores by category and scenario", blocks)


def triage_section(clean: pd.DataFrame) -> Section:
    rows = clean[clean["task"] == "ed_triage"]
    if rows.empty:
        return Section("ED triage", [Text("No triage scenarios in this run.", "note")])
    ref = rows["expected"].astype(int)
    pred = rows["parsed"].map(lambda p: "none" if p is None or pd.isna(p) else int(p))
    levels = [1, 2, 3, 4, 5]
    matrix = pd.crosstab(ref, pred).reindex(index=levels, columns=[*levels, "none"], fill_value=0)
    matrix = matrix.loc[(matrix.sum(axis=1) > 0)]
    rates = metric_table(metrics.summarize(rows, ["exact", "within_1", "under_triage", "over_triage",
                                                  "critical_under_triage", "unparseable"]))
    return Section("ED triage", [
        Text("Under-triage (a less urgent level than the reference) is the dangerous direction; critical "
             "under-triage is a reference ESI 1-2 case given 3-5."),
        Table(rates, f"Triage over {len(rows)} clean cases"),
        Figure(plots.confusion(matrix, "Reference vs predicted ESI"),
               "Confusion matrix: red = under-triage, blue = over-triage"),
        Table(matrix.rename_axis(index="reference ESI", columns=None).reset_index().astype(str),
              "Counts: rows reference ESI, columns predicted")])


def calibration_section(clean: pd.DataFrame) -> Section:
    if not {"confidence", "top_option_correct"} <= set(clean.columns):
        return Section("Calibration", [Text("No option probabilities in this run (no first-token log-probs).", "note")])
    pairs = clean[["confidence", "top_option_correct", "brier"]].dropna()
    conf, correct = pairs["confidence"].to_numpy(float), pairs["top_option_correct"].to_numpy(float)
    rows = metrics.summarize(clean, ["top_option_correct", "confidence", "brier"])
    return Section("Calibration", [
        Text(f"Multiple-choice answers with option probabilities: {len(pairs)}. Confidence is the probability of "
             "the most likely option letter (softmax of first-token log-probs); ECE uses 15 equal-width bins."),
        Table(metric_table(rows)),
        Figure(plots.reliability(conf, correct, f"Reliability (ECE {metrics.ece(conf, correct):.3f})"),
               "Reliability diagram: accuracy per confidence bin against the diagonal of perfect calibration")])


MIN_GROUP = 5  # smaller groups are shown but not used for the headline gap


def _gap(name: str, rates: list[dict]) -> dict | None:
    """Highest against lowest pass rate among groups of MIN_GROUP or more, raw and within scenario."""
    eligible = [r for r in rates if r["n"] >= MIN_GROUP]
    if len(eligible) < 2:
        return None
    hi, lo = max(eligible, key=lambda r: r["value"]), min(eligible, key=lambda r: r["value"])
    within = [r["within"] for r in eligible]
    return {"tag": name, "highest pass rate": f"{hi['group']}: {number(hi['value'])} (n={hi['n']})",
            "lowest pass rate": f"{lo['group']}: {number(lo['value'])} (n={lo['n']})",
            "gap": number(hi["value"] - lo["value"]), "gap within scenarios": number(max(within) - min(within))}


def subgroup_section(clean: pd.DataFrame) -> Section:
    blocks: list = [Text("Pass rate, safety-rule failures and harm-weighted error per instance tag. Groups differ in "
                         "their mix of scenarios, so each group also gets its pass rate relative to the scenarios it "
                         "was asked in (the mean of pass minus its scenario's pass rate; 0 = as its scenarios). "
                         f"Gaps compare groups of {MIN_GROUP} answers or more; a gap points at where to look, "
                         "not at its cause.", "note")]
    clean = clean.assign(within=clean["passed"] - clean.groupby("scenario_id")["passed"].transform("mean"))
    plot_rows, gaps = [], []
    for tag in summary.TAGS:
        name = tag.removeprefix("tag_")
        table, rates = [], []
        for value, group in clean.groupby(tag):
            rows = {r["metric"]: r for r in metrics.summarize(group, ["passed", "within", "safety_failure",
                                                                      "harm_weighted_error"])}
            p, w = rows["passed"], rows["within"]
            plot_rows.append({"label": f"{name}={value}", **p})
            rates.append({"group": value, **p, "within": w["value"]})
            table.append({"group": value, "n": p["n"], "pass rate": number(p["value"]),
                          "95% CI": interval(p["ci_low"], p["ci_high"]),
                          "within scenarios": f"{signed(w['value'])} ({interval(w['ci_low'], w['ci_high'])})",
                          "safety failures": number(rows.get("safety_failure", {}).get("value")),
                          "harm-weighted error": number(rows["harm_weighted_error"]["value"])})
        gaps.append(_gap(name, rates))
        blocks.append(Table(pd.DataFrame(table), f"By {name}"))
    blocks.insert(1, Table(pd.DataFrame([g for g in gaps if g]), "Largest pass-rate gap per tag"))
    blocks.insert(2, Figure(plots.forest(pd.DataFrame(plot_rows), "Pass rate by subgroup", "pass rate (95% CI)"),
                            "Pass rate per subgroup with 95% bootstrap intervals"))
    return Section("Subgroup gaps", blocks)


def robustness_section(run: RunFolder, rows: pd.DataFrame) -> Section:
    per = [{"scenario": sid, "perturbation": name, **r}
           for sid, part in run.summary["scenarios"].items() for name, r in part["robustness"].items()]
    if not per:
        return Section("Robustness", [Text("No perturbed twins in this run (run with --robustness).", "note")])
    pairs = pd.concat([summary.twin_pairs(part, tasks.get(part["task"].iloc[0]).primary)
                       for _, part in rows.groupby("scenario_id")], ignore_index=True)
    pooled = pd.DataFrame([{"label": name, **summary.robustness_of(group)}
                           for name, group in pairs.groupby("perturbation")])
    frame = pd.concat([pooled.assign(scenario="all scenarios", perturbation=pooled["label"], metric="primary"),
                       pd.DataFrame(per)], ignore_index=True)
    table = pd.DataFrame({"scenario": frame["scenario"], "perturbation": frame["perturbation"],
                          "metric": frame["metric"], "clean": frame["clean"].map(number),
                          "perturbed": frame["perturbed"].map(number), "change": frame["delta"].map(signed),
                          "95% CI": [interval(a, b) for a, b in zip(frame["ci_low"], frame["ci_high"])],
                          "flip rate": frame["flip_rate"].map(number), "pairs": frame["n"]})
    return Section("Robustness", [
        Text("Each perturbed twin (typos, clinical abbreviations, vital signs removed, irrelevant text) is paired "
             "with its clean instance; the change is perturbed minus clean on the scenario's primary metric, "
             "with a paired bootstrap interval; flips are answers that changed. The first rows pool every "
             "scenario's pairs."),
        Figure(plots.forest(pooled.rename(columns={"delta": "value"}), "Change under perturbation, all scenarios",
                            "perturbed minus clean on the primary metric (95% CI)", zero=True),
               "Robustness deltas pooled over scenarios"),
        Table(table)])


def review_section(run: RunFolder) -> Section | None:
    path = run.path / "review" / "agreement.json"
    if not path.is_file():
        return None
    agreement = read_json(path)
    k = agreement["kappa"]
    return Section("Clinician review", [
        Text(f"{agreement['items']} answers rated by {len(agreement['raters'])} clinician(s). Agreement of their "
             f"acceptable/not acceptable with the automatic pass/fail: Cohen's kappa {number(k['value'])} "
             f"(95% CI {interval(k['ci_low'], k['ci_high'])}), raw agreement {number(agreement['observed_agreement'])}."),
        Table(pd.DataFrame(agreement.get("table", [])), "Clinician rating against the automatic score")])


def manifest_section(run: RunFolder) -> Section:
    m = run.manifest
    model, suite, config = m["model"], m["suite"], m["config"]
    facts = {"run": run.name, "status": m["status"], "medrun": m["medrun_version"],
             "medrun source": json.dumps(m.get("medrun", {})), "scorer version (sha256)": run.scorer_version or "-",
             "command": " ".join(m["command"]),
             "model": model["id"], "weights fingerprint (sha256)": model["fingerprint"],
             "weights source": model.get("source_file") or model.get("completions_file") or model.get("folder", ""),
             "suite": f"{suite['id']} {suite['version']}", "suite sha256": suite["sha256"],
             "subset": config.get("subset"), "limit per scenario": config.get("limit"),
             "robustness twins": config.get("robustness"), "seeds": m["seeds"], "harm weights": m["harm_weights"],
             "engine": json.dumps(m.get("engine", {}), sort_keys=True), "host": json.dumps(m["host"]),
             "times": json.dumps(m["times"]), "counts": json.dumps(m.get("counts", {}))}
    decoding = pd.DataFrame([{"scenario": sid, "version": s["version"], "requests": s["requests"],
                              **(s.get("decoding") or {})} for sid, s in suite["scenarios"].items() if s["requests"]])
    files = pd.DataFrame([{"file": k, "sha256": v} for k, v in {**model.get("files", {}), **suite["files"]}.items()])
    packages = pd.DataFrame([{"package": k, "version": v or "-"} for k, v in m["packages"].items()])
    return Section("Manifest", [
        Table(pd.DataFrame([{"field": k, "value": str(v)} for k, v in facts.items()])),
        Table(decoding.astype(str), "Decoding settings per scenario (locked in the request keys)"),
        Table(files, "Weight and suite files with their sha256"), Table(packages, "Package versions")])


def build(run: RunFolder, top: int = 15) -> Document:
    rows = run.answers()
    clean = rows[rows["perturbation"].isna()]
    sections = [safety_section(run, rows), worst_section(run, clean, top), scores_section(run),
                judges_section(run), triage_section(clean), calibration_section(clean), subgroup_section(clean),
                robustness_section(run, rows), review_section(run), manifest_section(run)]
    suite = run.manifest["suite"]
    return Document(f"medrun report: {run.model}",
                    f"Suite {suite['id']} {suite['version']}, run {run.name}, {len(clean)} clean answers and "
                    f"{len(rows) - len(clean)} perturbed twins.", [s for s in sections if s is not None])


def report(path: Path, top: int = 15) -> tuple[Path, Path]:
    """Write report.html and report.md into the run folder; return their paths."""
    run = load_run(path)
    html, md = run.path / "report.html", run.path / "report.md"
    write(build(run, top), html, md)
    return html, md
