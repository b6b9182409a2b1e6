"""Backends by name. Each module is imported only when chosen, so a missing extra costs nothing."""

from __future__ import annotations

from runner.cards import ModelCard
from runner.engines.base import Completion, Decoding, Engine, Request
from runner.errors import MedrunError
from runner.weights import Weights

ENGINES = ("hf",)

__all__ = ["Completion", "Decoding", "Engine", "Request", "make_engine", "ENGINES"]


def make_engine(name: str, card: ModelCard, weights: Weights, **options) -> Engine:
    if name == "hf":
        from runner.engines.hf import HFEngine

        return HFEngine(card, weights, **options)
    raise MedrunError(f"unknown engine '{name}'. Choose one of: {', '.join(ENGINES)}.")
