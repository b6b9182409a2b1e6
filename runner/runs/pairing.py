"""Which parts of several runs can be compared: the same suite, scenario files byte-identical, and
the rows (instance x seed, twins included) that every run answered."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from runner.errors import MedrunError
from runner.runs.folder import KEY, RunFolder


@dataclass
class Shared:
    scenarios: list[str]         # present in every run with identical files
    differences: list[str]       # how the runs' suites differ (empty: the same suite)
    excluded: dict[str, str]     # scenario id -> why it is left out


def same_scenario(x: dict, y: dict) -> bool:
    """Same version and the same file hash (runs made before hashes were recorded: version only)."""
    return x.get("version") == y.get("version") and (
        x.get("sha256") == y.get("sha256") or None in (x.get("sha256"), y.get("sha256")))


def suite_differences(runs: list[RunFolder]) -> list[str]:
    first, out = runs[0], []
    for run in runs[1:]:
        a, b = first.manifest["suite"], run.manifest["suite"]
        if (a["id"], a["version"]) != (b["id"], b["version"]):
            out.append(f"{run.name} uses suite {b['id']} {b['version']}, {first.name} uses {a['id']} {a['version']}")
        only = set(first.scenarios) ^ set(run.scenarios)
        if only:
            out.append(f"{len(only)} scenario(s) are in only one of {first.name} and {run.name}: "
                       f"{', '.join(sorted(only)[:6])}{' ...' if len(only) > 6 else ''}")
        changed = [s for s in set(first.scenarios) & set(run.scenarios)
                   if not same_scenario(first.scenarios[s], run.scenarios[s])]
        if changed:
            out.append(f"{len(changed)} scenario file(s) differ between {first.name} and {run.name}: "
                       f"{', '.join(sorted(changed)[:6])}")
        scored = (first.scorer_version, run.scorer_version)
        if None in scored or scored[0] != scored[1]:
            out.append(f"{first.name} and {run.name} were scored by different scorer versions "
                       f"({' vs '.join((v or 'not recorded')[:12] for v in scored)}): a difference may come from "
                       "the scoring code, not the model; `medrun rescore RUN` rescores a run with the current code")
    return out


def shared_part(runs: list[RunFolder], allow_partial: bool) -> Shared:
    """The comparable scenarios, or a MedrunError when the suites differ and `allow_partial` is off."""
    differences = suite_differences(runs)
    common = set.intersection(*(set(r.scenarios) for r in runs))
    excluded = {s: "not in every run" for s in set().union(*(r.scenarios for r in runs)) - common}
    for s in sorted(common):
        entries = [r.scenarios[s] for r in runs]
        if not all(same_scenario(entries[0], e) for e in entries[1:]):
            excluded[s] = "its file differs between runs"
    scenarios = sorted(common - set(excluded))
    if differences and not allow_partial:
        raise MedrunError("the runs' suites differ:\n  " + "\n  ".join(differences) +
                          f"\nPass --shared to compare the {len(scenarios)} scenario(s) whose files are identical in every run "
                          "(scorer differences are then noted, not refused).")
    if not scenarios:
        raise MedrunError("the runs share no scenario with identical files; there is nothing to compare.")
    return Shared(scenarios, differences, dict(sorted(excluded.items())))


def common_rows(runs: list[RunFolder], scenarios: list[str]) -> list[pd.DataFrame]:
    """Each run's score rows restricted to the shared scenarios and to the rows every run has."""
    frames = [r.scores[r.scores["scenario_id"].isin(scenarios)] for r in runs]
    keys = frames[0][KEY]
    for f in frames[1:]:
        keys = keys.merge(f[KEY], on=KEY)
    if keys.empty:
        raise MedrunError("the runs have no answered instance in common (different subsets, limits or seeds?).")
    return [keys.merge(f, on=KEY, how="left") for f in frames]
