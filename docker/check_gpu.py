"""Preflight for the image's default command: exit 1 unless gpubp can use a GPU.

The `gpu` tests skip themselves where no GPU is usable, so a container started without
`--gpus all` (or with a CuPy that cannot compile kernels) would otherwise pass while testing
only the CPU. This prints what gpubp sees and fails loudly instead.
"""

import sys

import gpubp
from gpubp import backend

print(gpubp.describe(), flush=True)
try:
    backend.resolve("gpu")
except gpubp.DeviceError as e:
    sys.exit(f"check_gpu: {e}\n"
             "check_gpu: start the container with `docker run --gpus all ...` on a host with the "
             "NVIDIA Container Toolkit and a driver new enough for this image's CUDA version.")
print("check_gpu: GPU usable; running the whole test suite, gpu tests included", flush=True)
