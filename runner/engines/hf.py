"""transformers engine (CPU, or CUDA as a fallback to vLLM).

Requests are sorted by length and packed into batches under a token budget; left padding with an
attention mask; greedy decoding, or per-row seeded sampling that does not depend on how rows were
batched (each row draws from its own generator, see SeededSampler).
"""

from __future__ import annotations

import time
from itertools import groupby
from typing import Iterator, Sequence

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LogitsProcessor, LogitsProcessorList

from runner.engines.base import Completion, Decoding, EngineOptions, Request, check_context, render_chat
from runner.errors import MedrunError
from runner.models.cards import ModelCard
from runner.models.weights import Weights


class SeededSampler(LogitsProcessor):
    """Temperature + top-p sampling by the Gumbel-max trick with one torch.Generator per row.

    Returns scores whose argmax is the sampled token, so generate() runs in greedy mode and each
    row's draws depend only on its own seed, not on its batch-mates."""

    def __init__(self, decodings: Sequence[Decoding], device: torch.device):
        self.temperature = decodings[0].temperature
        self.top_p = decodings[0].top_p
        self.generators = [torch.Generator(device="cpu").manual_seed(d.seed) for d in decodings]
        self.device = device

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logits = scores.float() / self.temperature
        if self.top_p < 1.0:
            ordered, order = logits.sort(dim=-1, descending=True)
            cum = ordered.softmax(dim=-1).cumsum(dim=-1)
            drop = cum - ordered.softmax(dim=-1) > self.top_p  # keep the smallest set reaching top_p
            logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        noise = torch.stack([
            torch.rand(logits.shape[-1], generator=g, dtype=torch.float64) for g in self.generators
        ]).to(self.device)
        gumbel = -torch.log(-torch.log(noise.clamp_min(1e-300)))
        return (logits.double() + gumbel).to(scores.dtype)


class HFEngine:
    name = "hf"

    def __init__(self, card: ModelCard, weights: Weights, options: EngineOptions | None = None):
        options = options or EngineOptions()
        device, batch_tokens, max_batch_size = options.device, options.batch_tokens, options.max_batch_size
        self.card, self.weights = card, weights
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available()
                                   else ("cpu" if device == "auto" else device))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise MedrunError("--device cuda was asked for but no CUDA GPU is visible. Use --device cpu.")
        names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        self.dtype = names.get(card.dtype) or (torch.bfloat16 if self.device.type == "cuda" else torch.float32)
        self.batch_tokens, self.max_batch_size = batch_tokens, max_batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(
            weights.folder, local_files_only=True, trust_remote_code=card.trust_remote_code)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._model = None

    @property
    def model(self):
        """Loaded on first use: a run whose completions are all cached never loads the weights."""
        if self._model is None:
            transformers.utils.logging.disable_progress_bar()
            self._model = AutoModelForCausalLM.from_pretrained(
                self.weights.folder, local_files_only=True, dtype=self.dtype,
                trust_remote_code=self.card.trust_remote_code).to(self.device).eval()
        return self._model

    def render(self, messages: list[dict[str, str]]) -> str:
        return render_chat(self.card, self.tokenizer, messages)

    def identity(self) -> dict:
        return {"engine": self.name, "torch": torch.__version__, "transformers": transformers.__version__,
                "dtype": str(self.dtype).removeprefix("torch."), "device": self.device.type}

    def describe(self) -> dict:
        info = {"engine": self.name, "device": str(self.device), "dtype": str(self.dtype).removeprefix("torch."),
                "torch": torch.__version__, "transformers": transformers.__version__,
                "threads": torch.get_num_threads(), "batch_tokens": self.batch_tokens,
                "max_batch_size": self.max_batch_size}
        if self.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(self.device)
        return info

    def _batches(self, requests: Sequence[Request]) -> Iterator[list[tuple[Request, list[int]]]]:
        """Group by decoding settings, sort longest first, cut under the token budget."""
        encoded = [(r, self.tokenizer(r.prompt, add_special_tokens=False)["input_ids"]) for r in requests]
        for r, ids in encoded:
            check_context(len(ids), r.decoding.max_tokens, self.card.max_context)
        encoded.sort(key=lambda e: (e[0].decoding.batch_group(), -len(e[1])))
        for _, group in groupby(encoded, key=lambda e: e[0].decoding.batch_group()):
            batch: list = []
            for item in group:
                width = max([len(item[1])] + [len(b[1]) for b in batch]) + item[0].decoding.max_tokens
                if batch and (width * (len(batch) + 1) > self.batch_tokens or len(batch) >= self.max_batch_size):
                    yield batch
                    batch = []
                batch.append(item)
            if batch:
                yield batch

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        for batch in self._batches(requests):
            yield from self._generate_batch(batch)

    def _generate_batch(self, batch: list[tuple[Request, list[int]]]) -> list[Completion]:
        try:
            return self._run(batch)
        except torch.cuda.OutOfMemoryError:
            if len(batch) == 1:
                raise MedrunError("out of GPU memory on a single request. Lower max_tokens, use a smaller "
                                  "model or dtype, or a GPU with more memory.") from None
            torch.cuda.empty_cache()
            half = len(batch) // 2
            return self._generate_batch(batch[:half]) + self._generate_batch(batch[half:])

    def _stop_string_end(self, generated: list[int], stops: tuple[str, ...], eos_at: int | None) -> int | None:
        """The index of the token that completes a stop string, if one comes before the end of sequence:
        rows that stopped early are padded after it, and those pads are not part of the completion."""
        if not stops:
            return eos_at
        for i in range(len(generated) if eos_at is None else eos_at):
            if any(s in self.tokenizer.decode(generated[: i + 1]) for s in stops):
                return i
        return eos_at

    @torch.inference_mode()
    def _run(self, batch: list[tuple[Request, list[int]]]) -> list[Completion]:
        start = time.perf_counter()
        tok, decoding = self.tokenizer, batch[0][0].decoding
        enc = tok.pad({"input_ids": [ids for _, ids in batch]}, padding=True, return_tensors="pt").to(self.device)
        eos = self.model.generation_config.eos_token_id or tok.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        config = GenerationConfig(max_new_tokens=decoding.max_tokens, do_sample=False, num_beams=1,
                                  pad_token_id=tok.pad_token_id, eos_token_id=list(eos_ids),
                                  return_dict_in_generate=True, output_logits=decoding.top_logprobs > 0,
                                  # a preallocated KV cache: the growing one re-concatenates every layer's
                                  # keys and values each step, over half the decode time on CPU
                                  cache_implementation="static", disable_compile=True)
        processors = LogitsProcessorList(
            [SeededSampler([r.decoding for r, _ in batch], self.device)] if decoding.temperature > 0 else [])
        if decoding.stop:
            config.stop_strings = list(decoding.stop)
        out = self.model.generate(**enc, generation_config=config, logits_processor=processors,
                                  tokenizer=tok if decoding.stop else None)
        width = enc["input_ids"].shape[1]
        first = out.logits[0].float().log_softmax(-1) if decoding.top_logprobs > 0 else None
        seconds = (time.perf_counter() - start) / len(batch)
        completions = []
        for row, (request, ids) in enumerate(batch):
            generated = out.sequences[row, width:].tolist()
            stop = next((i for i, t in enumerate(generated) if t in eos_ids), None)
            stop = self._stop_string_end(generated, decoding.stop, stop)
            kept = generated if stop is None else generated[: stop + 1]
            top = []
            if first is not None:
                values, indices = first[row].topk(decoding.top_logprobs)
                top = [(tok.decode([i]), round(v, 6)) for v, i in zip(values.tolist(), indices.tolist())]
            completions.append(Completion(
                key=request.key, text=tok.decode(kept, skip_special_tokens=True), prompt_tokens=len(ids),
                completion_tokens=len(kept), finish_reason="length" if stop is None else "stop",
                first_token_logprobs=top, seconds=seconds, token_ids=kept))
        return completions
