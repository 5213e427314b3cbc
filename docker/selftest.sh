#!/usr/bin/env bash
# The image's test command (its CMD), run in /app:
#   docker/selftest.sh          on a CUDA image: GPU check, whole suite (gpu tests included),
#                               short benchmark; on the CPU image: the whole suite on the CPU
#   docker/selftest.sh --cpu    the whole suite on the CPU (the gpu tests skip), on any image
# Further arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=0
if [ "${1:-}" = --cpu ]; then cpu=1; shift; fi
if [ "${GPUBP_IMAGE:-}" = cpu ]; then cpu=1; fi
if [ "$cpu" = 1 ]; then
    echo "selftest: the whole suite on the CPU (the gpu tests skip)"
    exec pytest tests -ra "$@"
fi
python docker/check_gpu.py
pytest tests -ra "$@"
python benchmarks/bench_step.py --quick
