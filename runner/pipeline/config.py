"""What one evaluation runs: model, suite selection, decoding, engine settings, output places."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from runner import paths
from runner.engines.base import EngineOptions
from runner.errors import MedrunError
from runner.runs import metrics

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass
class EvalConfig:
    model: str = DEFAULT_MODEL
    suite: Path = field(default_factory=paths.suite_dir)
    scenarios: list[str] | None = None
    limit: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    temperature: float = 0.0
    top_p: float = 1.0
    engine: str = "auto"
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    subset: str | None = None  # a named subset from suite.yaml; None: the suite's default_subset
    robustness: bool | None = None  # generate the perturbed twins the scenarios ask for; None: the subset's
    mc_scoring: str | None = None   # multiple choice: generate or logprob for every scenario; None: each scenario's
    out: Path = Path("runs")
    cache: Path | None = None  # default MEDRUN_HOME/cache.sqlite
    harm_weights: tuple[float, ...] = metrics.DEFAULT_HARM_WEIGHTS
    data_parallel: int = 1  # engine processes (one per GPU), each generating a share of the plan
    judges: list[str] = field(default_factory=list)  # judge model cards: one is a judge, several a jury
    judge_tries: int = 2    # asks per question before a judge's verdict counts as unparsed
    allow_self_judge: bool = False  # let the model under test judge its own replies
    quiet: bool = False

    def cache_path(self) -> Path:
        return self.cache or paths.home() / "cache.sqlite"

    def as_json(self) -> dict:
        """Plain JSON values (paths as strings): for the manifest and for data-parallel workers."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "EvalConfig":
        data = dict(data, engine_options=EngineOptions(**data["engine_options"]),
                    harm_weights=tuple(data["harm_weights"]))
        for key in ("suite", "out", "cache"):
            if data.get(key) is not None:
                data[key] = Path(data[key])
        return cls(**data)


def check_config(config: EvalConfig) -> None:
    if config.temperature < 0 or not 0 < config.top_p <= 1:
        raise MedrunError("--temperature must be >= 0 and --top-p in (0, 1].")
    if config.temperature == 0 and len(config.seeds) > 1:
        raise MedrunError("several --seeds with greedy decoding would repeat identical requests; "
                          "set --temperature above 0 to sample, or pass one seed.")
    if config.mc_scoring not in (None, "generate", "logprob"):
        raise MedrunError(f"--mc-scoring {config.mc_scoring!r}: choose generate or logprob.")
    if config.limit is not None and config.limit < 1:
        raise MedrunError("--limit must be at least 1.")
    if config.data_parallel < 1:
        raise MedrunError("--data-parallel must be at least 1.")
    if config.judge_tries < 1:
        raise MedrunError("--judge-tries must be at least 1 (1: no retry after an unusable answer).")
    try:
        metrics.harm_weighted_error(pd.Series([0]), config.harm_weights)
    except ValueError as e:
        raise MedrunError(f"--harm-weights: {e}.") from None

