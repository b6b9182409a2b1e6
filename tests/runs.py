"""Real run folders without a model: answers written here go through `score_external`, the same
scorers and writers as `medrun eval`. Each answer is the instance's ideal reply or a plausible wrong
one, chosen by a seeded draw, so two "models" differ on some instances and agree on others."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from conftest import REPO

from runner import tasks
from runner.pipeline.config import EvalConfig
from runner.pipeline.external import external_target, score_external
from runner.pipeline.plan import load_selection, plan

WRONG = {"ed_triage": "ESI 5: can wait.", "open_response": "This sounds minor. Rest at home and see how it goes."}


def _letters_logprobs(options: list[str], pick: str, confidence: float) -> list[list]:
    rest = (1 - confidence) / max(len(options) - 1, 1)
    return [[letter, math.log(confidence if letter == pick else rest)] for letter in options]


def answer(p, good: bool, rng: random.Random) -> dict:
    kind, inst = tasks.get(p.scenario.task), p.instance
    row = {"scenario_id": p.scenario.id, "instance_id": inst.id, "seed": p.seed}
    if p.scenario.task == "multiple_choice":
        options = list(inst.options)
        pick = inst.answer if good else next(o for o in options if o != inst.answer)
        row["first_token_logprobs"] = _letters_logprobs(options, pick, rng.uniform(0.4, 0.95))
        row["text"] = pick
    else:
        wrong = WRONG.get(p.scenario.task, "I cannot say.")
        row["text"] = (kind.ideal(inst) or wrong) if good else wrong  # documentation items may have no reference
    return row


def make_run(out: Path, label: str, good_share: float, seed: int, scenarios: list[str] | None = None,
             limit: int | None = 4, robustness: bool = True, suite: Path = REPO / "scenarios") -> Path:
    """A complete run folder under `out` for a pretend model that answers well `good_share` of the time."""
    config, selected = load_selection(EvalConfig(suite=suite, scenarios=scenarios, subset="full", limit=limit,
                                                 robustness=robustness, out=out, quiet=True))
    rng = random.Random(seed)
    rows = [answer(p, rng.random() < good_share, rng)
            for p in plan(config, selected.scenarios, external_target(label))]
    path = out / f"{label}-answers.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return score_external(path, config, label).folder
