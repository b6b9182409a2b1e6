"""The one protocol every backend implements. Engines know nothing of scenarios or scoring."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator, Protocol, Sequence


@dataclass(frozen=True)
class Decoding:
    """Locked decoding settings of one request. temperature 0 is greedy and ignores the seed."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    top_logprobs: int = 0  # how many top log-probs of the FIRST generated token to return

    def as_dict(self) -> dict:
        return asdict(self)

    def batch_group(self) -> tuple:
        """Requests that may share one batch: everything but the seed (seeds are per row)."""
        return (self.max_tokens, self.temperature, self.top_p, self.top_logprobs)


@dataclass(frozen=True)
class Request:
    key: str          # cache key (fingerprint + prompt + decoding), unique per request
    prompt: str       # fully rendered text, chat template already applied
    decoding: Decoding


@dataclass
class Completion:
    key: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str                     # "stop" (end of sequence) or "length" (hit max_tokens)
    first_token_logprobs: list[tuple[str, float]] = field(default_factory=list)  # [(token text, logprob)]
    seconds: float = 0.0                   # this request's share of its batch's wall time


class Engine(Protocol):
    name: str

    def render(self, messages: list[dict[str, str]]) -> str:
        """Messages -> the exact prompt string (chat template applied as the card says)."""

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        """All requests at once; the engine batches. Yields completions as they finish."""

    def describe(self) -> dict:
        """Device, dtype, library versions: goes into the manifest."""
