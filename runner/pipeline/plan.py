"""The plan: one request per instance x seed, robustness twins included, prompts rendered exactly as
the model will see them. Nothing here runs a model."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from runner import tasks
from runner.completions.cache import request_key
from runner.engines.base import Decoding, Request
from runner.pipeline.config import EvalConfig
from runner.suite.load import Suite, load_suite
from runner.suite.perturb import ADULT_ONLY, PERTURBATIONS
from runner.suite.schema import Scenario
from runner.tasks.schema import BaseInstance

Render = Callable[[list[dict[str, str]]], str]


@dataclass(frozen=True)
class Target:
    """Who answers: how its prompts are rendered, and what identifies its completions in the cache."""

    render: Render
    fingerprint: str          # the weights' sha256 (or external:<label>)
    engine: dict              # the engine's identity (name, versions, dtype, device kind)
    system_prefix: str | None = None  # the model card's own system prompt, if any


@dataclass
class Planned:
    scenario: Scenario
    instance: BaseInstance
    seed: int
    request: Request
    perturbation: str | None = None  # None for the clean instance
    twin_of: str | None = None       # the clean instance's id, for a perturbed twin
    user: str = ""                   # the user message, as clinician reviewers see it
    system: str = ""                 # the system message
    answer_prefix: str = ""          # what the prompt ends with after the chat template (the reply's start)


def load_selection(config: EvalConfig, suite: Suite | None = None) -> tuple[EvalConfig, Suite]:
    """The suite (loaded from config.suite unless given) restricted to the selection, and the config with
    its subset resolved (explicit options win over the subset's)."""
    suite = suite or load_suite(config.suite)
    name, sub = suite.subset(config.subset)
    config = replace(config, subset=name, limit=config.limit if config.limit is not None else sub.limit,
                     scenarios=config.scenarios or sub.scenarios,
                     robustness=sub.robustness if config.robustness is None else config.robustness)
    return config, suite.select(config.scenarios)


def instances_with_twins(scenario: Scenario, limit: int | None, robustness: bool
                         ) -> list[tuple[BaseInstance, str | None, str | None]]:
    """(instance, perturbation, twin_of): each clean instance, then its perturbed twins."""
    text_field = tasks.get(scenario.task).text_field
    out = []
    for inst in scenario.instances[:limit]:
        out.append((inst, None, None))
        adult = inst.tags.age_group in ("adult", "older_adult")
        for name in scenario.robustness if robustness else []:
            if name in ADULT_ONLY and not adult:
                continue
            text = PERTURBATIONS[name](getattr(inst, text_field), inst.id)
            if text is not None:
                out.append((inst.model_copy(update={text_field: text, "id": f"{inst.id}--{name}"}), name, inst.id))
    return out


def plan(config: EvalConfig, scenarios: list[Scenario], target: Target) -> list[Planned]:
    """One request per instance x seed. Greedy requests all use seed 0 (the seed does not matter)."""
    planned = []
    for scenario in scenarios:
        kind = tasks.get(scenario.task)
        system = "\n\n".join(s for s in (target.system_prefix, scenario.system or kind.system) if s)
        scored = kind.choices is not None and (config.mc_scoring or scenario.mc_scoring) == "logprob"
        prefix = kind.choice_prefix if scored else kind.answer_prefix
        for instance, perturbation, twin_of in instances_with_twins(scenario, config.limit, config.robustness):
            user = kind.render(instance)
            prompt = target.render([{"role": "system", "content": system},
                                    {"role": "user", "content": user}]) + prefix
            for seed in config.seeds:
                sampling = dict(temperature=config.temperature, top_p=config.top_p,
                                seed=seed if config.temperature > 0 else 0)
                decoding = (Decoding(max_tokens=1, choices=kind.choices(instance), **sampling) if scored else
                            Decoding(max_tokens=scenario.max_tokens or kind.max_tokens, top_logprobs=kind.top_logprobs,
                                     **sampling))
                request = Request(request_key(target.fingerprint, target.engine, prompt, decoding), prompt, decoding)
                planned.append(Planned(scenario, instance, seed, request, perturbation, twin_of, user, system, prefix))
    return planned


def plain(messages: list[dict[str, str]]) -> str:
    """Messages joined as text: the rendering for answers made elsewhere (no chat template known)."""
    return "\n\n".join(m["content"] for m in messages)
