"""Run the same plan several times, cache bypassed, and count byte-identical completions."""

from __future__ import annotations

from runner.run import EvalConfig, prepare


def repeat_plan(config: EvalConfig, repeat: int = 2) -> dict:
    prep = prepare(config)
    planned = prep.plan()
    requests = list({p.request.key: p.request for p in planned}.values())
    runs = [{c.key: c.text for c in prep.engine.generate(requests)} for _ in range(repeat)]
    differing = [r.key for r in requests if any(run[r.key] != runs[0][r.key] for run in runs[1:])]
    return {"model": prep.card.id, "fingerprint": prep.weights.fingerprint, "engine": prep.engine.describe(),
            "subset": prep.config.subset, "repeat": repeat, "requests": len(requests),
            "identical": len(requests) - len(differing), "share_identical": 1 - len(differing) / len(requests),
            "differing_keys": differing}
