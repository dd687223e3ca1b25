#!/usr/bin/env bash
# The two inference figures on a GPU, in one run of at most ~5 minutes:
# time to result (1024x1280x8 TIFF -> score stored) and batch throughput vs the naive loop.
# Usage: bash benchmarks/predict_gpu.sh   (writes bench-out/*_cuda.json)
set -euo pipefail
PY=${PY:-.venv/bin/python}
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
timeout 150 $PY benchmarks/time_to_result.py --device cuda --runs 20 \
  --out bench-out/time_to_result_cuda.json
timeout 150 $PY benchmarks/batch_inference.py --device cuda --captures 256 --size 256 \
  --repeats 3 --out bench-out/batch_inference_cuda.json
