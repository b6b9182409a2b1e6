"""`medrun determinism`: the same plan generated several times with the cache bypassed, each pass with
a different batch composition (the plan's order in one call; then shuffled, in smaller and smaller
chunks; with `alone`, one last pass of one request per call), and the share of completions whose text
and token ids are identical in every pass, overall and per task kind. Greedy decoding on one machine should give 100%; where float arithmetic depends
on batch shape it shows here."""

from __future__ import annotations

import random
from collections import defaultdict

from runner.engines.base import Request
from runner.pipeline.config import EvalConfig
from runner.pipeline.prepare import prepare


def batch_layouts(requests: list[Request], passes: int, alone: bool = False) -> list[tuple[str, list[list[Request]]]]:
    """Pass 0: the plan's order, one call. Pass k: a seeded shuffle cut into k + 1 chunks, so every
    pass puts requests next to other batch-mates. `alone`: then one request per call (no batch-mates)."""
    layouts = [("plan order, one call", [list(requests)])]
    for k in range(1, passes):
        order = list(requests)
        random.Random(k).shuffle(order)
        size = max(1, -(-len(order) // (k + 1)))
        layouts.append((f"shuffled (seed {k}), calls of {size}",
                        [order[i:i + size] for i in range(0, len(order), size)]))
    if alone:
        layouts.append(("one request per call", [[r] for r in requests]))
    return layouts


def repeat_plan(config: EvalConfig, repeat: int = 2, alone: bool = False) -> dict:
    prep = prepare(config)
    planned = prep.plan()
    kinds = {p.request.key: p.scenario.task for p in planned}
    requests = list({p.request.key: p.request for p in planned}.values())
    layouts = batch_layouts(requests, repeat, alone)
    runs = [{c.key: (c.text, tuple(c.token_ids)) for chunk in chunks for c in prep.engine.generate(chunk)}
            for _, chunks in layouts]
    differing = [r.key for r in requests if any(run[r.key] != runs[0][r.key] for run in runs[1:])]
    per_kind: dict[str, dict] = defaultdict(lambda: {"requests": 0, "identical": 0})
    for r in requests:
        part = per_kind[kinds[r.key]]
        part["requests"] += 1
        part["identical"] += r.key not in differing
    for part in per_kind.values():
        part["share_identical"] = part["identical"] / part["requests"]
    return {"model": prep.card.id, "fingerprint": prep.weights.fingerprint, "engine": prep.engine.describe(),
            "subset": prep.config.subset, "repeat": repeat, "layouts": [name for name, _ in layouts],
            "requests": len(requests), "identical": len(requests) - len(differing),
            "share_identical": 1 - len(differing) / len(requests), "per_task": dict(sorted(per_kind.items())),
            "differing_keys": differing}
