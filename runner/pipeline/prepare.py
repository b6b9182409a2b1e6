"""Everything an evaluation needs before the first token: the checked config, the card, the selected
suite, the weights and their fingerprint, and the engine (whose model loads on first use)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from runner.engines import Engine, choose_engine, make_engine
from runner.models.cards import ModelCard, find_card
from runner.models.weights import Weights, resolve
from runner.pipeline.config import EvalConfig, check_config
from runner.pipeline.plan import Planned, Target, load_selection, plan
from runner.suite.load import Suite


@dataclass
class Prepared:
    config: EvalConfig  # subset resolved
    card: ModelCard
    suite: Suite
    weights: Weights
    engine: Engine
    why: str  # why this engine

    @property
    def target(self) -> Target:
        return Target(self.engine.render, self.weights.fingerprint, self.engine.identity(), self.card.system_prompt)

    def plan(self) -> list[Planned]:
        return plan(self.config, self.suite.scenarios, self.target)


def prepare(config: EvalConfig) -> Prepared:
    """Validate, resolve the subset, the card, the weights and the engine (the model loads lazily)."""
    check_config(config)
    card = find_card(config.model)
    config, suite = load_selection(config)
    weights = resolve(card)
    engine_name, why = choose_engine(config.engine)
    if not config.quiet:
        print(f"engine: {why}; subset: {config.subset}", file=sys.stderr)
    return Prepared(config, card, suite, weights, make_engine(engine_name, card, weights, config.engine_options), why)
