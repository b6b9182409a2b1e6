"""Scoring fixed answer choices instead of generating: one forward pass over the prompt, then each
choice's log-probability as the next token (lm-eval's loglikelihood for single-token answers).

Each choice must add exactly one token to the prompt, found as lm-eval finds a continuation: the
tokens of prompt + choice after the prompt's own tokens. Both engines use these helpers, so they score
the same token ids and return the same completion shape."""

from __future__ import annotations

from typing import Sequence

from runner.engines.base import Completion, Request
from runner.errors import MedrunError


def choice_token_ids(tokenizer, prompt: str, prompt_ids: list[int], choices: Sequence[str]) -> list[int]:
    """The one token id each choice adds to the prompt."""
    ids = []
    for choice in choices:
        whole = tokenizer(prompt + choice, add_special_tokens=False)["input_ids"]
        added = whole[len(prompt_ids):]
        if whole[: len(prompt_ids)] != prompt_ids or len(added) != 1:
            raise MedrunError(
                f"answer choice {choice!r} is not one token after the prompt for this tokenizer (it adds "
                f"{len(added)} tokens, or merges with the prompt's last token). Logprob scoring needs single-token "
                "choices such as ' A'; use mc_scoring: generate for this scenario.")
        ids.append(added[0])
    if len(set(ids)) != len(ids):
        raise MedrunError(f"answer choices {list(choices)} share a token for this tokenizer; they cannot be told apart.")
    return ids


def choice_completion(request: Request, prompt_tokens: int, token_ids: list[int], logprobs: list[float],
                      seconds: float) -> Completion:
    """The chosen answer as text (the most probable choice, stripped), every choice's log-prob in the
    choices' order as `first_token_logprobs`, no generated tokens."""
    choices = request.decoding.choices
    best = max(range(len(choices)), key=lambda i: logprobs[i])
    return Completion(key=request.key, text=choices[best].strip(), prompt_tokens=prompt_tokens, completion_tokens=0,
                      finish_reason="choice", first_token_logprobs=[(c, round(lp, 6)) for c, lp in zip(choices, logprobs)],
                      seconds=seconds, token_ids=[token_ids[best]])
