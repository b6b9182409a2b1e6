"""transformers engine (CPU, or CUDA as a fallback to vLLM).

Generation is continuously batched by default (runner.engines.hf_continuous): a finished row's slot is
refilled at once, under a padded-token budget. `batching: static` (and models the slot cache does not
serve) sorts requests by length and packs them into batches that each run to their longest answer.
Either way: left padding with an attention mask; greedy decoding, or per-row seeded sampling that
does not depend on how rows were batched (runner.engines.sampling). Requests with answer `choices`
are scored in one forward pass each, in static batches (runner.engines.choices).
"""

from __future__ import annotations

import time
from itertools import groupby
from typing import Iterator, Sequence

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LogitsProcessor, LogitsProcessorList

from runner.engines.base import Completion, Decoding, EngineOptions, Request, check_context, render_chat
from runner.engines.choices import choice_completion, choice_token_ids
from runner.engines.hf_continuous import ContinuousDecoder, continuous_unsupported, length_chunks
from runner.engines.sampling import gumbel_scores, row_generator
from runner.errors import MedrunError
from runner.models.cards import ModelCard
from runner.models.weights import Weights


AUTO_BATCH_TOKENS = 65536


def _free_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return 4 << 30  # no /proc: assume 4 GiB free


class SeededSampler(LogitsProcessor):
    """Per-row seeded sampling (see runner.engines.sampling) inside generate(): returns scores whose
    argmax is the sampled token, so generate() runs in greedy mode."""

    def __init__(self, decodings: Sequence[Decoding]):
        self.decodings = decodings
        self.generators = [row_generator(d.seed) for d in decodings]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return torch.stack([gumbel_scores(row, d.temperature, d.top_p, g)
                            for row, d, g in zip(scores, self.decodings, self.generators)]).to(scores.dtype)


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
        if options.batching not in ("continuous", "static"):
            raise MedrunError(f"--batching {options.batching!r}: choose continuous or static.")
        if (batch_tokens is not None and batch_tokens < 1) or max_batch_size < 1:
            raise MedrunError("--batch-tokens and --max-batch-size must be at least 1.")
        self._batch_tokens = batch_tokens
        self.max_batch_size = 1 if options.batch_invariant else max_batch_size  # alone: no batch-mates to differ by
        self.batching, self.batch_invariant = options.batching, options.batch_invariant
        self.tokenizer = AutoTokenizer.from_pretrained(
            weights.folder, local_files_only=True, trust_remote_code=card.trust_remote_code)
        self.config = AutoConfig.from_pretrained(weights.folder, local_files_only=True,
                                                 trust_remote_code=card.trust_remote_code)
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

    @property
    def batch_tokens(self) -> int:
        """The padded-token budget: as asked, or the keys and values a quarter of the memory free once the
        weights are loaded can hold (CUDA: the device's free memory; CPU: MemAvailable), 2048 to 65536."""
        if self._batch_tokens is None:
            self.model  # noqa: B018  (free memory is measured with the weights in place)
            config = self.config.get_text_config() if hasattr(self.config, "get_text_config") else self.config
            heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
            head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
            per_token = 2 * config.num_hidden_layers * heads * head_dim * torch.finfo(self.dtype).bits // 8
            self._batch_tokens = max(2048, min(AUTO_BATCH_TOKENS, int(_free_memory(self.device) / 4 / per_token)))
        return self._batch_tokens

    def render(self, messages: list[dict[str, str]]) -> str:
        return render_chat(self.card, self.tokenizer, messages)

    def identity(self) -> dict:
        return {"engine": self.name, "torch": torch.__version__, "transformers": transformers.__version__,
                "dtype": str(self.dtype).removeprefix("torch."), "device": self.device.type}

    def describe(self) -> dict:
        info = {"engine": self.name, "device": str(self.device), "dtype": str(self.dtype).removeprefix("torch."),
                "torch": torch.__version__, "transformers": transformers.__version__,
                "threads": torch.get_num_threads(),
                "batch_tokens": self._batch_tokens if self._batch_tokens is not None else "auto (not yet measured)",
                "max_batch_size": self.max_batch_size, "batching": self.batching_used(),
                "batch_invariant": self.batch_invariant}
        if self.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(self.device)
        return info

    def batching_used(self) -> str:
        """continuous, or static with the reason where continuous was asked for but cannot serve the model."""
        why = continuous_unsupported(self.config, self.card.trust_remote_code) if self.batching == "continuous" else None
        return f"static ({why})" if why else self.batching

    def _encode(self, requests: Sequence[Request]) -> list[tuple[Request, list[int]]]:
        """Token ids of every prompt, checked against the context and, for choices, the tokenizer."""
        encoded = [(r, self.tokenizer(r.prompt, add_special_tokens=False)["input_ids"]) for r in requests]
        self._choice_ids = {}  # request key -> its choices' token ids, found once here, read by _score_choices
        for r, ids in encoded:
            check_context(len(ids), r.decoding.max_tokens, self.card.max_context)
            if r.decoding.choices:
                self._choice_ids[r.key] = choice_token_ids(self.tokenizer, r.prompt, ids, r.decoding.choices)
        return encoded

    def _batches(self, encoded: list[tuple[Request, list[int]]]) -> Iterator[list[tuple[Request, list[int]]]]:
        """Static batches: group by decoding settings, sort longest first, cut under the token budget."""
        encoded = sorted(encoded, key=lambda e: (e[0].decoding.batch_group(), -len(e[1])))
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
        encoded = self._encode(requests)
        for batch in length_chunks([e for e in encoded if e[0].decoding.choices], lambda e: len(e[1]), self.max_batch_size):
            yield from self._score_choices(batch)
        generate = [e for e in encoded if not e[0].decoding.choices]
        if not generate:
            return
        if self.batching_used() != "continuous":
            for batch in self._batches(generate):
                yield from self._generate_batch(batch)
            return
        done: set[str] = set()
        decoder = ContinuousDecoder(self.model, self.tokenizer, self._eos_ids(), self.device, self.batch_tokens,
                                    self.max_batch_size)
        try:
            for completion in decoder.run(generate):
                done.add(completion.key)
                yield completion
        except torch.cuda.OutOfMemoryError:
            # what finished is kept; the rest goes through static batches, which halve until they fit
            del decoder
            torch.cuda.empty_cache()
            for batch in self._batches([e for e in generate if e[0].key not in done]):
                yield from self._generate_batch(batch)

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        return set(eos if isinstance(eos, list) else [eos])

    def _padded(self, batch: list[tuple[Request, list[int]]]):
        return self.tokenizer.pad({"input_ids": [ids for _, ids in batch]}, padding=True,
                                  return_tensors="pt").to(self.device)

    @torch.inference_mode()
    def _score_choices(self, batch: list[tuple[Request, list[int]]]) -> list[Completion]:
        """One forward pass over each prompt; the next-token log-probs of its choices."""
        start = time.perf_counter()
        enc = self._padded(batch)
        mask = enc["attention_mask"]
        logits = self.model(input_ids=enc["input_ids"], attention_mask=mask,
                            position_ids=(mask.cumsum(-1) - 1).clamp_min(0), use_cache=False,
                            logits_to_keep=1).logits[:, -1].float().log_softmax(-1)
        seconds = (time.perf_counter() - start) / len(batch)
        out = []
        for row, (request, ids) in enumerate(batch):
            choice_ids = self._choice_ids[request.key]
            out.append(choice_completion(request, len(ids), choice_ids, logits[row, choice_ids].tolist(), seconds))
        return out

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
        enc = self._padded(batch)
        eos_ids = self._eos_ids()
        config = GenerationConfig(max_new_tokens=decoding.max_tokens, do_sample=False, num_beams=1,
                                  pad_token_id=tok.pad_token_id, eos_token_id=list(eos_ids),
                                  return_dict_in_generate=True, output_logits=decoding.top_logprobs > 0,
                                  # a preallocated KV cache: the growing one re-concatenates every layer's
                                  # keys and values each step, over half the decode time on CPU
                                  cache_implementation="static", disable_compile=True)
        processors = LogitsProcessorList(
            [SeededSampler([r.decoding for r, _ in batch])] if decoding.temperature > 0 else [])
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
