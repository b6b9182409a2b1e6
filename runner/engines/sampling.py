"""Seeded sampling whose draws depend only on a row's own seed, never on its batch-mates.

Temperature + top-p sampling by the Gumbel-max trick: each row draws its noise from its own
torch.Generator, so a row samples the same text alone, in a static batch or in a continuous one."""

from __future__ import annotations

import torch


def gumbel_scores(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> torch.Tensor:
    """One row's float32 logits [vocab] -> scores whose argmax is the sampled token."""
    logits = logits.float() / temperature
    if top_p < 1.0:
        ordered, order = logits.sort(descending=True)
        probs = ordered.softmax(-1)
        drop = probs.cumsum(-1) - probs > top_p  # keep the smallest set reaching top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    noise = torch.rand(logits.shape[-1], generator=generator, dtype=torch.float64).to(logits.device)
    gumbel = -torch.log(-torch.log(noise.clamp_min(1e-300)))
    return (logits.double() + gumbel).float()


def row_generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(seed)
