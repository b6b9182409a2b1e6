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
    stop: tuple[str, ...] = ()  # generation ends once the text holds one of these (kept in the text)
    choices: tuple[str, ...] = ()  # score these one-token answers in one forward pass instead of generating

    def as_dict(self) -> dict:
        """The settings as cache keys and manifests see them; `stop` and `choices` only where set, so
        requests without them keep the keys they had before the fields existed."""
        settings = asdict(self)
        for name in ("stop", "choices"):
            if not settings[name]:
                del settings[name]
        return settings

    def batch_group(self) -> tuple:
        """Requests that may share one batch: everything but the seed (seeds are per row)."""
        return (self.max_tokens, self.temperature, self.top_p, self.top_logprobs, self.stop)


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
    finish_reason: str                     # "stop" (end of sequence or stop string), "length" (hit max_tokens),
                                           # "choice" (answer choices scored, nothing generated)
    first_token_logprobs: list[tuple[str, float]] = field(default_factory=list)  # [(token text, logprob)];
                                           # for choices: every choice's log-prob, in the choices' order
    seconds: float = 0.0                   # this request's share of its batch's wall time
    token_ids: list[int] = field(default_factory=list)  # the generated token ids, end-of-sequence included


@dataclass
class EngineOptions:
    """Settings of the backends, from the command line; unset (None) falls back to the model card."""

    device: str = "auto"                       # hf: auto, cpu, cuda, cuda:N
    batch_tokens: int | None = None            # hf: padded tokens per batch (slots x columns); None: from free memory
    max_batch_size: int = 64                   # hf: rows per batch
    batching: str = "continuous"               # hf: continuous (a finished row's slot is refilled at once) or static
    tensor_parallel_size: int | None = None    # vllm: GPUs per model replica
    gpu_memory_utilization: float | None = None  # vllm: share of GPU (on CPU: host) memory to take
    max_model_len: int | None = None           # vllm: context length; default the card's max_context
    enforce_eager: bool = False                # vllm: skip CUDA graphs / compilation (fast start)
    batch_invariant: bool = False              # same result at any batch size: vllm VLLM_BATCH_INVARIANT=1;
                                               # hf: each request decoded alone
    distributed_executor_backend: str | None = None  # vllm: "ray" for multi-node, "mp" on one node

    def as_dict(self) -> dict:
        return asdict(self)


def check_context(prompt_tokens: int, max_tokens: int, max_context: int) -> None:
    """A prompt plus its answer must fit the model's context window."""
    from runner.errors import MedrunError

    if prompt_tokens + max_tokens > max_context:
        raise MedrunError(f"a prompt of {prompt_tokens} tokens plus max_tokens {max_tokens} exceeds the model's "
                          f"context of {max_context} tokens. Shorten the scenario, lower max_tokens, or raise "
                          "max_context in the card (and --max-model-len) if the model supports it.")


def render_chat(card, tokenizer, messages: list[dict[str, str]]) -> str:
    """The exact prompt text: the tokenizer's chat template with the generation prompt, or, where the
    card says `chat_template: none`, the messages' texts joined."""
    from runner.errors import MedrunError

    if card.chat_template == "none":
        return "\n\n".join(m["content"] for m in messages) + "\n"
    if not tokenizer.chat_template:
        raise MedrunError(f"{card.card_path}: chat_template is 'builtin' but the tokenizer has none. "
                          "Set chat_template: none in the card.")
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


class Engine(Protocol):
    name: str

    def identity(self) -> dict:
        """What besides the weights, prompt and decoding can change a completion: engine name, library
        versions, dtype, device kind (and kernels where they are selectable). Part of every cache key,
        so a vLLM or GPU run never reuses completions made on a CPU with transformers."""

    def render(self, messages: list[dict[str, str]]) -> str:
        """Messages -> the exact prompt string (chat template applied as the card says)."""

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        """All requests at once; the engine batches. Yields completions as they finish."""

    def describe(self) -> dict:
        """Device, dtype, library versions: goes into the manifest."""
