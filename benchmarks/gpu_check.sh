#!/usr/bin/env bash
# A short GPU check (a few minutes) for a machine with a CUDA GPU and a CUDA build of torch.
#
#   bash benchmarks/gpu_check.sh            # from the repository root
#
# 1. installs dynascope (editable, no dependencies: the machine must already have torch with
#    CUDA, numpy, scipy, scikit-learn, safetensors, click, tqdm, threadpoolctl, pytest);
# 2. runs the CUDA tests (tests/test_device.py: models, training on CUDA vs CPU);
# 3. benchmarks/gpu_check.py: CPU vs GPU for training throughput and fixed points at
#    N = 1024 and 4096 and low-rank simulation up to N = 10^6, with the ratios.
# Output goes to stdout and, when $OUT is set (the device runner's output folder), to
# $OUT/gpu_check.log.
set -euo pipefail
log="${OUT:-/tmp}/gpu_check.log"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi"
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
  pip install --no-deps --no-build-isolation -e . -q || echo "pip install failed; using PYTHONPATH=src"
  export PYTHONPATH="$PWD/src:${PYTHONPATH:-}"
  timeout 240 python -m pytest -q -p no:cacheprovider tests/test_device.py -rs || echo "device tests failed (rc $?)"
  timeout 420 python benchmarks/gpu_check.py "$@" || echo "gpu_check.py failed (rc $?)"
} 2>&1 | tee "$log"
