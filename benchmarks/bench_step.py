"""Script of record (issue 9): the training step as ``fit`` pays it, against its matrix-multiply
floor and against PyTorch's equivalent loop, each runner in its own process, interleaved.

    python benchmarks/bench_step.py [--device cpu|gpu] [--dtype float32] [--rounds 11]
                                    [--threads N] [--quick] [--json out.json]

Runners, each a worker process of this script (``--worker NAME``), fed one request at a time:

- ``gpubp``: ``net.fit(X, Y, epochs=E, batch_size=m, optimizer="sgd", lr=0.01, shuffle=True)``
  over data of several batches (M = batches * m examples, whole batches only), the wall time of
  the call divided by its number of steps. Everything that loop does per step is in it: drawing
  the permutation, gathering each batch, forward, cost, backward, the update, and its per-call
  checks (amortized). The data are handed over as users hold them: ``X`` is the transpose of an
  example-major array (rows are examples), the layout ``fit`` gathers from;
- ``gpubp-nofused``: the same with ``GPUBP_FUSED=0`` (the NumPy twins instead of the numba
  one-pass kernels of the ``cpu`` extra); CPU only;
- ``floor``: the same step's matrix products alone through the same library (NumPy, or CuPy on
  the GPU) into preallocated outputs: forward ``W[l] A[l-1]``; backward ``dZ[l] A[l-1]^T``,
  ``dZ[l] 1`` and, for l > 1, ``W[l]^T dZ[l]``, with ``A[0]`` example-major as ``fit`` stages it.
  No version of the step can be faster than its products;
- ``torch``: PyTorch's equivalent loop: ``nn.Linear`` layers with the activation, the same loss
  (``CrossEntropyLoss`` on the logits with class labels, or ``binary_cross_entropy_with_logits``
  summed over the outputs and divided by m, as gpubp's ``bce``), ``torch.optim.SGD`` with the
  same lr, the same batch size, example-major data gathered per batch (``index_select`` of a
  fresh ``randperm`` each epoch), the batch costs summed on the device and read once per epoch
  as gpubp's ``fit`` does. ``torch.set_num_threads`` is the number of threads gpubp's BLAS uses.

The ``rnn`` case is issue 9's Elman RNN (``gpubp.ElmanRNN``: n_x = 32, n_h = 256, T = 32, m = 256,
tanh, a softmax + cross-entropy output at the last step) against ``nn.RNN`` + ``nn.Linear`` on the
last hidden state (cuDNN's RNN on the GPU), and its floor is the unrolled step's products.

PyTorch runs in a process of its own because its threads and OpenBLAS's fight when they share
one. Every round visits every network and every runner (the runners' order rotating from round to
round, so that the machine's drift hits all of them), each with one warm-up call first; a round's
value is the median of its timed calls. Printed: the median over the rounds and the spread (the
smallest and largest round values); ratios ``gpubp / floor`` and ``gpubp / torch`` (below 1:
gpubp faster), with and without the fused passes.

On the GPU (``--device gpu``, CuPy) the same runners time ``fit``'s loop, the cuBLAS floor and
PyTorch's eager loop, each synchronized at the end of a call; the fused CPU passes do not apply
there, so the ``gpubp-nofused`` runner is left out.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

LR = 0.01
SEED = 0

# the networks of issue 9; batches * epochs steps per timed call
CPU_CASES = [
    dict(name="tiny", sizes=[2, 3, 2], activation="sigmoid", output="sigmoid", loss="bce",
         m=4, batches=64, epochs=4, calls=15),
    dict(name="small", sizes=[64, 128, 128, 10], activation="tanh", output="softmax",
         loss="cross_entropy", m=256, batches=16, epochs=2, calls=15),
    dict(name="medium", sizes=[784, 1024, 1024, 10], activation="relu", output="softmax",
         loss="cross_entropy", m=1024, batches=8, epochs=1, calls=3),
    # the Elman RNN of issue 9: n_x-n_h-n_y, unrolled over T steps, the output at the last step
    dict(name="rnn", kind="rnn", sizes=[32, 256, 10], T=32, activation="tanh", output="softmax",
         loss="cross_entropy", m=256, batches=4, epochs=1, calls=3),
]
GPU_CASES = [
    dict(name="784-256-10", sizes=[784, 256, 10], activation="relu", output="softmax",
         loss="cross_entropy", m=256, batches=32, epochs=4, calls=10),
    dict(name="medium", sizes=[784, 1024, 1024, 10], activation="relu", output="softmax",
         loss="cross_entropy", m=1024, batches=16, epochs=4, calls=10),
    dict(name="large", sizes=[1024, 4096, 4096, 4096, 1024], activation="relu", output="softmax",
         loss="cross_entropy", m=8192, batches=4, epochs=2, calls=5),
    dict(name="rnn", kind="rnn", sizes=[32, 256, 10], T=32, activation="tanh", output="softmax",
         loss="cross_entropy", m=256, batches=16, epochs=2, calls=5),
]


# ---- the workers ---------------------------------------------------------------------------

def make_data(case, dtype):
    """The same data in every worker: example-major ``X`` (M, n0), or (M, T, n_x) for the RNN,
    class labels (M,) and targets ``T`` (M, nL) (one-hot for cross_entropy, 0/1 for bce)."""
    sizes, M = case["sizes"], case["m"] * case["batches"]
    rng = np.random.default_rng(SEED)
    shape = (M, case["T"], sizes[0]) if case.get("kind") == "rnn" else (M, sizes[0])
    X = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    labels = rng.integers(0, sizes[-1], M)
    if case["loss"] == "bce":
        T = rng.integers(0, 2, (M, sizes[-1])).astype(dtype)
    else:
        T = np.zeros((M, sizes[-1]), dtype)
        T[np.arange(M), labels] = 1
    return X, labels, T


def steps_of(case):
    return case["batches"] * case["epochs"]


def gpubp_runner(case, device, dtype):
    import gpubp
    from gpubp import backend
    from gpubp.errors import DeviceError

    if case.get("kind") == "rnn":
        n_x, n_h, n_y = case["sizes"]
        net = gpubp.ElmanRNN(n_x, n_h, n_y, case["T"], activation=case["activation"],
                             output=case["output"], loss=case["loss"], dtype=dtype, device=device,
                             seed=SEED)
    else:
        net = gpubp.Network(case["sizes"], activation=case["activation"], output=case["output"],
                            loss=case["loss"], dtype=dtype, device=device, seed=SEED)
    xp = net.xp
    X, _, T = make_data(case, dtype)
    # (n, M) views of example-major arrays, on the device; (T, n_x, M) for the RNN
    X, T = xp.asarray(X).transpose(*range(X.ndim)[1:], 0), xp.asarray(T).T
    options = dict(epochs=case["epochs"], batch_size=case["m"], optimizer="sgd", lr=LR,
                   shuffle=True)

    def call():
        history = net.fit(X, T, **options)
        backend.synchronize(xp)
        return history["cost"][-1]  # the last epoch's mean batch cost (a host float already)
    return call


def floor_runner(case, device, dtype):
    from gpubp import backend
    from gpubp.errors import DeviceError

    xp = backend.xp_for(device)
    sizes, m = case["sizes"], case["m"]
    rng = np.random.default_rng(SEED)

    def rand(*shape):
        return xp.asarray(rng.standard_normal(shape, dtype=np.float32).astype(dtype))

    if case.get("kind") == "rnn":
        return rnn_floor(case, xp, rand)
    A = [rand(m, sizes[0]).T]  # example-major, as fit stages a batch
    Z, dZ, W = [None], [None], [None]
    for l in range(1, len(sizes)):
        W.append(rand(sizes[l], sizes[l - 1]))
        Z.append(xp.empty((sizes[l], m), dtype))
        A.append(rand(sizes[l], m))
        dZ.append(rand(sizes[l], m))
    ones = xp.ones((m, 1), dtype)
    products = []  # (a, b, out) of every product of one step, in the step's order
    for l in range(1, len(sizes)):
        products.append((W[l], A[l - 1], Z[l]))
    for l in range(len(sizes) - 1, 0, -1):
        products.append((dZ[l], A[l - 1].T, xp.empty_like(W[l])))
        products.append((dZ[l], ones, xp.empty((sizes[l], 1), dtype)))
        if l > 1:
            products.append((W[l].T, dZ[l], xp.empty((sizes[l - 1], m), dtype)))
    return products_call(xp, products, steps_of(case))


def products_call(xp, products, steps):
    """A call running ``steps`` times every product ``(a, b, out)``: ``out = a b``."""
    from gpubp import backend
    from gpubp.errors import DeviceError

    def call():
        for _ in range(steps):
            for a, b, out in products:
                xp.matmul(a, b, out=out)
        backend.synchronize(xp)
    return call


def rnn_floor(case, xp, rand):
    """The Elman RNN's products of one step (``gpubp.ElmanRNN``, outputs at the last step):
    forward ``Wx x[t]`` (t = 1..T), ``Wh h[t-1]`` (t = 2..T), ``Wy h[T]``; backward ``dZ_y h[T]^T``,
    ``dZ_y 1``, ``Wy^T dZ_y`` and, for each t, ``dZ_h[t] x[t]^T``, ``dZ_h[t] 1`` and, for t > 1,
    ``dZ_h[t] h[t-1]^T`` and ``Wh^T dZ_h[t]``."""
    n_x, n_h, n_y = case["sizes"]
    T, m = case["T"], case["m"]
    dtype = rand(1).dtype
    Wx, Wh, Wy = rand(n_h, n_x), rand(n_h, n_h), rand(n_y, n_h)
    x = [rand(m, n_x).T for _ in range(T)]  # example-major, as fit stages a batch
    h = [rand(n_h, m) for _ in range(T)]
    dZ = [rand(n_h, m) for _ in range(T)]
    dZ_y, ones = rand(n_y, m), xp.ones((m, 1), dtype)
    zh, zy = xp.empty((n_h, m), dtype), xp.empty((n_y, m), dtype)
    gx, gh, gy = xp.empty_like(Wx), xp.empty_like(Wh), xp.empty_like(Wy)
    gb, gby = xp.empty((n_h, 1), dtype), xp.empty((n_y, 1), dtype)
    products = [(Wx, x[t], zh) for t in range(T)] + [(Wh, h[t - 1], zh) for t in range(1, T)]
    products += [(Wy, h[-1], zy), (dZ_y, h[-1].T, gy), (dZ_y, ones, gby), (Wy.T, dZ_y, zh)]
    for t in range(T - 1, -1, -1):
        products += [(dZ[t], x[t].T, gx), (dZ[t], ones, gb)]
        if t > 0:
            products += [(dZ[t], h[t - 1].T, gh), (Wh.T, dZ[t], zh)]
    return products_call(xp, products, steps_of(case))


def torch_runner(case, device, dtype):
    import torch
    import torch.nn.functional as F

    dev = "cuda" if device == "gpu" else "cpu"
    tdtype = getattr(torch, dtype)
    torch.manual_seed(SEED)
    sizes, m = case["sizes"], case["m"]
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[case["activation"]]
    X, labels, T = make_data(case, dtype)
    X = torch.from_numpy(X).to(dev)
    if case.get("kind") == "rnn":  # nn.RNN (cuDNN's on the GPU) + nn.Linear on the last state
        class Elman(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = torch.nn.RNN(sizes[0], sizes[1], nonlinearity=case["activation"],
                                        batch_first=True)
                self.out = torch.nn.Linear(sizes[1], sizes[2])

            def forward(self, x):  # x (m, T, n_x), example-major as the data
                return self.out(self.rnn(x)[1][0])
        model = Elman().to(dev, tdtype)
    else:
        layers = []
        for l in range(1, len(sizes)):
            layers.append(torch.nn.Linear(sizes[l - 1], sizes[l]))
            if l < len(sizes) - 1:
                layers.append(act())
        model = torch.nn.Sequential(*layers).to(dev, tdtype)  # the output activation is in the loss
    if case["loss"] == "bce":
        y = torch.from_numpy(T).to(dev)

        def loss_fn(logits, t):  # gpubp's bce: summed over the outputs, mean over the examples
            return F.binary_cross_entropy_with_logits(logits, t, reduction="sum") / logits.shape[0]
    elif case["loss"] == "cross_entropy":
        y = torch.from_numpy(labels).to(dev)
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        raise ValueError(case["loss"])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(SEED)
    M = X.shape[0]

    def epoch():
        perm = torch.randperm(M, generator=gen).to(dev)  # drawn on the host, as gpubp's
        total = torch.zeros((), device=dev, dtype=tdtype)
        for start in range(0, M, m):
            idx = perm[start:start + m]
            xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach() * idx.shape[0]
        return total.item() / M  # one transfer per epoch

    def call():
        for _ in range(case["epochs"]):
            cost = epoch()
        if dev == "cuda":
            torch.cuda.synchronize()
        return cost
    return call


def worker_info(runner, threads):
    info = {"pid": os.getpid()}
    if runner == "torch":
        import torch
        torch.set_num_threads(threads)
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    torch_interop_threads=torch.get_num_interop_threads(),
                    torch_config=[line.strip(" -\t") for line in
                                  (torch.__config__.parallel_info() + torch.__config__.show()).splitlines()
                                  if any(k in line for k in ("Math Kernel Library Version", "MKL-DNN v",
                                                             "CPU capability", "parallel backend"))])
        try:
            info["torch_cuda"] = torch.version.cuda
            if torch.cuda.is_available():
                info["torch_device"] = torch.cuda.get_device_name()
        except Exception as e:  # informative only
            info["torch_cuda"] = f"error: {e}"
    else:
        import gpubp
        from gpubp import fused
        info.update(gpubp=gpubp.__version__, fused_enabled=bool(fused.ENABLED),
                    numba=getattr(fused.numba, "__version__", None),
                    GPUBP_FUSED=os.environ.get("GPUBP_FUSED"))
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [{k: p.get(k) for k in ("user_api", "internal_api", "version",
                                                      "num_threads", "architecture", "prefix")}
                               for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    return info


RUNNERS = {"gpubp": gpubp_runner, "gpubp-nofused": gpubp_runner, "floor": floor_runner,
           "torch": torch_runner}


def worker(runner, device, dtype, threads):
    """Answer requests on stdin, one JSON line each, with one JSON line on stdout."""
    reply_to = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write into the replies
    calls = {}
    try:
        info = worker_info(runner, threads)
    except Exception as e:
        reply_to.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
        reply_to.flush()
        return
    reply_to.write(json.dumps({"ready": True, "info": info}) + "\n")
    reply_to.flush()
    for line in sys.stdin:
        req = json.loads(line)
        case = req["case"]
        try:
            if case["name"] not in calls:
                calls[case["name"]] = RUNNERS[runner](case, device, dtype)
            call = calls[case["name"]]
            cost = None
            for _ in range(req["warmup"]):
                cost = call()
            times = []
            for _ in range(req["calls"]):
                t0 = time.perf_counter()
                cost = call()
                times.append((time.perf_counter() - t0) / steps_of(case))
            reply = {"per_step_s": times, "cost": cost}
        except Exception as e:
            reply = {"error": f"{type(e).__name__}: {e}"}
        reply_to.write(json.dumps(reply) + "\n")
        reply_to.flush()


# ---- the conductor ---------------------------------------------------------------------------

class Worker:
    def __init__(self, runner, device, dtype, threads, set_threads):
        env = dict(os.environ)
        if runner == "gpubp-nofused":
            env["GPUBP_FUSED"] = "0"
        elif runner == "gpubp":
            env["GPUBP_FUSED"] = "1"
        if set_threads and runner != "torch":
            env["OPENBLAS_NUM_THREADS"] = str(threads)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")  # this checkout's gpubp
        self.runner = runner
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", runner, "--device", device,
             "--dtype", dtype, "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1)

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.runner} exited (code {self.proc.wait()})")
        return json.loads(line)

    def ask(self, case, warmup, calls):
        self.proc.stdin.write(json.dumps(dict(case=case, warmup=warmup, calls=calls)) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def machine(device):
    """What the numbers depend on: CPU, cores, versions, BLAS and its environment, date."""
    from importlib import metadata

    def version(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "gpubp"], text=True,
                               capture_output=True, check=True).stdout.strip()
        head += " (gpubp/ modified)" if dirty else ""
    except Exception:
        head = "?"
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    info = dict(
        date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        host=platform.node(), cpu=cpu, cpu_count=os.cpu_count(),
        cpus_usable=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        platform=platform.platform(), python=platform.python_version(), device=device,
        gpubp=version("gpubp"), gpubp_commit=head, numpy=np.__version__, numba=version("numba"),
        torch=version("torch"), cupy=version("cupy-cuda12x") or version("cupy-cuda13x") or version("cupy"),
        blas=f"{blas.get('name')} {blas.get('version')}; {blas.get('openblas configuration', '')}".strip(),
        env={k: v for k, v in sorted(os.environ.items())
             if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO", "GPUBP_", "KMP_"))},
    )
    if device == "gpu":
        from gpubp import backend
        info["gpu"] = backend.describe()
    return info


class CpuWatch:
    """CPU time spent on this machine by other processes while a benchmark runs (Linux): busy time
    from /proc/stat less what this process and the ``pids`` (its workers) used; and the time the
    hypervisor stole. A quiet machine shows ~0 for both; the numbers of a noisy one are suspect."""

    def __init__(self, pids=()):
        self.pids = list(pids)
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.start = self._read()

    def _read(self):
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
            busy = sum(v[i] for i in (0, 1, 2, 5, 6)) / self.tick  # user nice system irq softirq
            steal = v[7] / self.tick if len(v) > 7 else 0.0
            mine = sum(os.times()[:2])
            for pid in self.pids:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                mine += (int(fields[11]) + int(fields[12])) / self.tick  # utime stime
            return busy, steal, mine, time.perf_counter()
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        end = self._read()
        if self.start is None or end is None:
            return None
        busy, steal, mine, wall = (b - a for a, b in zip(self.start, end))
        return dict(wall_s=wall, others_cpu_s=max(0.0, busy - mine), steal_s=steal, own_cpu_s=mine)

    @staticmethod
    def describe(w):
        if w is None:
            return "other processes' CPU time: unknown (no /proc)"
        return (f"other processes used {w['others_cpu_s']:.1f} CPU-s in {w['wall_s']:.0f} s "
                f"({w['others_cpu_s'] / w['wall_s']:.2f} cores on average), hypervisor steal "
                f"{w['steal_s']:.1f} s: ~0 on a quiet machine")


def fmt_t(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_spread(r):
    return "-" if r is None else f"{fmt_t(r['min_s'])}-{fmt_t(r['max_s'])}".replace(" us-", "-").replace(" ms-", "-")


def ratio(a, b):
    return None if a is None or b is None else a["median_s"] / b["median_s"]


def fmt_r(x):
    return "-" if x is None else f"{x:.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cpu, gpu or auto (default: GPUBP_DEVICE or auto)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--threads", type=int, default=None,
                   help="threads for the BLAS and for PyTorch (default: OPENBLAS_NUM_THREADS if set, "
                        "else the usable cores)")
    p.add_argument("--cases", default=None, help="comma-separated names of the networks to run")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--quick", action="store_true", help="2 rounds of fewer calls")
    p.add_argument("--json", help="write the rows and the machine description here")
    p.add_argument("--worker", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        return worker(args.worker, args.device, args.dtype, args.threads)

    sys.path.insert(0, ROOT)
    from gpubp import backend
    from gpubp.errors import DeviceError
    try:
        device = backend.resolve(args.device)
    except DeviceError as e:  # one line, no traceback
        raise SystemExit(f"{__file__.rsplit('/', 1)[-1]}: {e}")
    set_threads = args.threads is not None
    threads = args.threads or int(os.environ.get("OPENBLAS_NUM_THREADS") or 0) or \
        (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    cases = [dict(c) for c in (GPU_CASES if device == "gpu" else CPU_CASES)]
    if args.cases:
        wanted = args.cases.split(",")
        cases = [c for c in cases if c["name"] in wanted]
    rounds = args.rounds
    if args.quick:
        rounds = 2
        for c in cases:
            c["calls"] = max(1, c["calls"] // 3)
    runners = ["gpubp"] + (["gpubp-nofused"] if device == "cpu" else []) + ["floor"]
    notes = []
    if not args.no_torch:
        try:
            import importlib.util
            if importlib.util.find_spec("torch") is None:
                notes.append("torch: not installed")
            else:
                runners.append("torch")
        except Exception as e:
            notes.append(f"torch: {e}")

    workers, infos = {}, {}
    try:
        for r in runners:
            workers[r] = Worker(r, device, args.dtype, threads, set_threads)
        for r in list(runners):
            msg = workers[r].read()
            if "error" in msg:
                notes.append(f"{r}: {msg['error']}")
                workers.pop(r).close()
                runners.remove(r)
            else:
                infos[r] = msg["info"]
        if device == "gpu" and "torch" in infos and "torch_device" not in infos["torch"]:
            notes.append("torch: sees no CUDA device")
            workers.pop("torch").close()
            runners.remove("torch")
        results = {c["name"]: {r: [] for r in runners} for c in cases}
        costs = {c["name"]: {} for c in cases}  # the last epoch's cost: both sides learn alike
        errors = {}
        for c in cases:  # builds, plans, JIT: nothing of it timed
            for r in runners:
                out = workers[r].ask(c, warmup=2, calls=0)
                if "error" in out:
                    errors[(c["name"], r)] = out["error"]
        load_before = os.getloadavg()
        watch = CpuWatch([w.proc.pid for w in workers.values()])
        t_start = time.perf_counter()
        for k in range(rounds):
            for c in cases:
                order = runners[k % len(runners):] + runners[:k % len(runners)]
                for r in order:
                    if (c["name"], r) in errors:
                        continue
                    time.sleep(0.15)  # the last worker's BLAS or OpenMP threads stop spinning
                    out = workers[r].ask(c, warmup=1, calls=c["calls"])
                    if "error" in out:
                        errors[(c["name"], r)] = out["error"]
                    else:
                        results[c["name"]][r].append(statistics.median(out["per_step_s"]))
                        costs[c["name"]][r] = out["cost"]
        elapsed = time.perf_counter() - t_start
        load_after = os.getloadavg()
        quiet = watch.stop()
    finally:
        for w in workers.values():
            w.close()

    rows = []
    for c in cases:
        row = dict(c, steps_per_call=steps_of(c), examples=c["m"] * c["batches"], dtype=args.dtype,
                   device=device)
        for r in runners:
            v = results[c["name"]][r]
            row[r] = None if not v else dict(median_s=statistics.median(v), min_s=min(v),
                                             max_s=max(v), rounds_s=v, last_cost=costs[c["name"]].get(r))
            if (c["name"], r) in errors:
                row[r + "_error"] = errors[(c["name"], r)]
        g, nf, fl, t = (row.get(k) for k in ("gpubp", "gpubp-nofused", "floor", "torch"))
        row.update(ratio_floor=ratio(g, fl), ratio_torch=ratio(g, t),
                   nofused_ratio_floor=ratio(nf, fl), nofused_ratio_torch=ratio(nf, t),
                   fused_speedup=ratio(nf, g))
        for name, a, b in (("ratio_floor", "gpubp", "floor"), ("ratio_torch", "gpubp", "torch"),
                           ("nofused_ratio_floor", "gpubp-nofused", "floor"),
                           ("nofused_ratio_torch", "gpubp-nofused", "torch")):
            ra, rb = results[c["name"]].get(a), results[c["name"]].get(b)
            if ra and rb and len(ra) == len(rb):  # each round's ratio: the drift between rounds cancels
                per = [x / y for x, y in zip(ra, rb)]
                row[name + "_by_round"] = dict(median=statistics.median(per), min=min(per), max=max(per))
        if c.get("kind") == "rnn":  # T products with Wx, T - 1 with Wh, one with Wy; 3 each
            n_x, n_h, n_y = c["sizes"]
            flops = 6 * c["m"] * (c["T"] * n_h * n_x + (c["T"] - 1) * n_h * n_h + n_y * n_h)
        else:
            flops = 6 * c["m"] * sum(a * b for a, b in zip(c["sizes"], c["sizes"][1:]))
        row["gpubp_gflops"] = flops / g["median_s"] / 1e9 if g else None
        row["floor_gflops"] = flops / fl["median_s"] / 1e9 if fl else None
        rows.append(row)

    info = machine(device)
    info.update(threads=threads, workers=infos, loadavg_before=load_before, loadavg_after=load_after,
                others_cpu=quiet)
    out = []
    out.append(f"# bench_step.py, {info['date']}: {' '.join(sys.argv[1:]) or '(defaults)'}")
    out.append(f"# {info['host']}: {info['cpu']}, {info['cpu_count']} CPUs ({info['cpus_usable']} usable); "
               f"{info['platform']}")
    out.append(f"# python {info['python']}, gpubp {info['gpubp']} at {info['gpubp_commit']}, "
               f"numpy {info['numpy']}, numba {info['numba']}, torch {info['torch']}"
               + (f", cupy {info['cupy']}" if info["cupy"] else ""))
    out.append(f"# BLAS: {info['blas']}")
    out.append(f"# environment: {' '.join(f'{k}={v}' for k, v in info['env'].items()) or '(none set)'}")
    for r, i in infos.items():
        if "fused_enabled" in i:
            out.append(f"# worker {r}: gpubp.fused.ENABLED={i['fused_enabled']} "
                       f"(numba {i['numba']}, GPUBP_FUSED={i['GPUBP_FUSED']})")
        if isinstance(i.get("threadpools"), list) and r in ("gpubp", "torch"):
            pools = "; ".join(f"{p['internal_api']} {p['version']} {p['architecture']} "
                              f"{p['num_threads']} threads" for p in i["threadpools"])
            out.append(f"# worker {r} thread pools: {pools}")
        if r == "torch":
            out.append(f"# worker torch: torch {i['torch']}, set_num_threads({threads}) -> "
                       f"{i['torch_threads']} threads; "
                       + "; ".join(dict.fromkeys(i["torch_config"])))
    out.append(f"# load average (1, 5, 15 min) before timing {' '.join(f'{x:.2f}' for x in load_before)}, "
               f"after {' '.join(f'{x:.2f}' for x in load_after)} (its own workers add up to the thread count)")
    out.append(f"# during the timing: {CpuWatch.describe(quiet)}")
    if "gpu" in info:
        out.append("# " + info["gpu"].replace("\n", "\n# "))
    out.append(f"# {args.dtype}, SGD lr {LR}, {threads} threads; per step: a fit call's wall time / its "
               f"steps; median over {rounds} interleaved rounds (each the median of its calls after one "
               f"warm-up call), spread = min-max of the round values; {elapsed:.0f} s of timing")
    head = (f"{'network':<8} {'sizes':<26} {'m':>5} {'gpubp':>9} {'spread':>13} {'no fused':>9} "
            f"{'floor':>9} {'spread':>13} {'torch':>9} {'spread':>13} {'g/floor':>7} {'g/torch':>7} {'nf/floor':>8} "
            f"{'nf/torch':>8}")
    out.append(head)
    for row in rows:
        g, nf, fl, t = (row.get(k) for k in ("gpubp", "gpubp-nofused", "floor", "torch"))
        out.append(f"{row['name']:<8} {'-'.join(map(str, row['sizes'])):<26} {row['m']:>5} "
                   f"{fmt_t(g and g['median_s']):>9} {fmt_spread(g):>13} "
                   f"{fmt_t(nf and nf['median_s']):>9} {fmt_t(fl and fl['median_s']):>9} {fmt_spread(fl):>13} "
                   f"{fmt_t(t and t['median_s']):>9} {fmt_spread(t):>13} "
                   f"{fmt_r(row['ratio_floor']):>7} {fmt_r(row['ratio_torch']):>7} "
                   f"{fmt_r(row['nofused_ratio_floor']):>8} {fmt_r(row['nofused_ratio_torch']):>8}")
    out.append("")
    out.append("| network | m | gpubp fit | fused off | matmul floor | PyTorch loop | gpubp/floor "
               "| gpubp/torch | fused off: /floor | fused off: /torch |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        g, nf, fl, t = (row.get(k) for k in ("gpubp", "gpubp-nofused", "floor", "torch"))
        desc = f"{row['name']} {'-'.join(map(str, row['sizes']))} " + \
            (f"T={row['T']} " if row.get("kind") == "rnn" else "") + f"{row['activation']}, " + \
            ("bce" if row["loss"] == "bce" else "softmax + ce")
        out.append(f"| {desc} | {row['m']} | {fmt_t(g and g['median_s'])} | "
                   f"{fmt_t(nf and nf['median_s'])} | {fmt_t(fl and fl['median_s'])} | "
                   f"{fmt_t(t and t['median_s'])} | {fmt_r(row['ratio_floor'])} | "
                   f"{fmt_r(row['ratio_torch'])} | {fmt_r(row['nofused_ratio_floor'])} | "
                   f"{fmt_r(row['nofused_ratio_torch'])} |")
    out.append("")
    out.append("# the ratios taken round by round (median, min-max over the rounds):")
    for row in rows:
        labels = {"ratio_floor": "gpubp/floor", "ratio_torch": "gpubp/torch",
                  "nofused_ratio_floor": "fused off/floor", "nofused_ratio_torch": "fused off/torch"}
        parts = [f"{label} {v['median']:.2f} ({v['min']:.2f}-{v['max']:.2f})"
                 for k, label in labels.items() if (v := row.get(k + "_by_round"))]
        out.append(f"#   {row['name']:<8} " + ", ".join(parts))
    for row in rows:
        for k, v in row.items():
            if k.endswith("_error"):
                notes.append(f"{row['name']} {k[:-6]}: {v}")
    for n in notes:
        out.append(f"# note: {n}")
    print("\n".join(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=info, rounds=rounds, lr=LR, notes=notes, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
