"""Offline by construction: the hub and telemetry switches, set before any model library loads.

`runner/__init__.py` calls `apply()` first thing, so importing any part of medrun makes the
process offline before transformers, huggingface_hub or vllm can read their environment.
"""

from __future__ import annotations

import os

OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply() -> dict[str, str]:
    """Force the offline switches into this process's environment and return them."""
    os.environ.update(OFFLINE_ENV)
    return dict(OFFLINE_ENV)
