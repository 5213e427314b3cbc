"""``gpubp gradcheck``, ``explain``, ``info`` and ``demo``: the commands that look at backprop
itself rather than at a data set."""

import os
import sys
import time

import numpy as np

from .. import backend
from ..errors import GpubpError
from . import files
from .options import PROG, show, usage
from .progress import Progress


def network_from(args, command, **kw):
    """The float64 CPU-or-asked network of --sizes (all of them), --activation, --output, --loss."""
    import gpubp

    sizes, act = args.sizes, args.activation
    L = len(sizes) - 1
    if isinstance(act, list) and len(act) != L - 1:
        raise usage(command, f"--activation lists {len(act)} names; --sizes {show(sizes)} has "
                    f"{L - 1} hidden layer{'s' if L != 2 else ''}")
    loss = args.loss or default_loss(args.output)
    return gpubp.Network(sizes, activation=act, output=args.output, loss=loss, dtype="float64",
                         seed=args.seed, **kw)


def default_loss(output):
    """The loss whose canonical output is ``output`` (softmax: cross_entropy, sigmoid: bce,
    exp: poisson, as each loss declares), else mse."""
    from .. import losses

    paired = {cls.canonical: name for name, cls in losses.LOSSES.items()
              if cls.canonical not in (None, "identity")}
    return paired.get(output, "mse")


def random_data(net, m, seed):
    """``(X, Y)``: m random examples and targets that suit the network's loss."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(net.sizes[0], m))
    n_out, loss = net.sizes[-1], net.loss.name
    if loss == "cross_entropy":
        Y = rng.uniform(0.05, 1, (n_out, m))
        Y /= Y.sum(axis=0, keepdims=True)
    elif loss == "bce":
        Y = rng.uniform(0, 1, (n_out, m))
    else:  # normal values for the squared errors; what the loss declares valid otherwise
        Y = net.loss.sample_targets(rng, n_out, m)
    return X, Y


def cmd_gradcheck(args):
    import gpubp

    net = network_from(args, "gradcheck", device=args.device)
    X, Y = random_data(net, args.batch, args.seed)
    entries = None if args.all else args.entries
    total = sum(p.size if entries is None else min(entries, p.size) for p in net.params.values())
    if not args.quiet:
        print(f"{PROG}: gradcheck of {net!r}\n{PROG}: m = {args.batch} random examples, {total} "
              f"entries ({'all' if entries is None else f'up to {entries} per parameter'}), "
              f"float64, on {net.device}", flush=True)
    bar = Progress(total, 0, args.quiet, what="entry") if not args.quiet else None
    t = time.perf_counter()
    try:
        report = gpubp.gradcheck(net, X, Y, max_entries=entries, seed=args.seed,
                                 progress=_shown_on(bar))
    finally:
        if bar is not None:
            bar.close()
    print(report)
    ok = report.ok(args.tol)
    print(f"{'ok' if ok else 'FAILED'}: worst relative error {report.max_error:.3e} "
          f"{'<=' if ok else '>'} tol {args.tol:g} ({time.perf_counter() - t:.2f} s)")
    return 0 if ok else 1


def _shown_on(bar):
    """gradcheck's progress(name, done, total), shown on ``bar`` (a Progress, or None)."""
    current = [None]

    def progress(name, done, total):
        if bar is None:
            return
        if bar.mode == "bar":
            bar.bar.set_postfix_str(name, refresh=False)
            bar.bar.update(done - bar.bar.n)
        elif current[0] != name:
            current[0] = name
            print(f"checking {name} ...", flush=True)
    return progress


def cmd_explain(args):
    import gpubp
    from .. import picture

    if args.picture:
        files.check_writable("--picture", args.picture)
        files.check_not_an_input("explain", "--picture", args.picture, {"--model": args.model})
        files.check_replaceable("--picture", args.picture, files.is_picture,
                                "a PNG or SVG picture", args.force)
    if args.model:
        net = gpubp.load(args.model, device="cpu")
    else:
        net = network_from(args, "explain", device="cpu", bias=not args.no_bias)
    derivation = gpubp.explain(net, m=args.batch, check=args.check, seed=args.seed)
    if args.picture:
        print(f"picture: {picture.draw(net, args.picture, m=args.batch)}", file=sys.stderr)
    print(derivation.render(args.format))
    return 0


# ---- info and demo ------------------------------------------------------------------------------

def cmd_info(args):
    if getattr(args, "model", None):
        from . import about

        print("\n".join(about.lines(args.model)))
        return 0
    print("\n".join(info_lines()))
    return 0


def info_lines():
    import platform

    import gpubp

    lines = [f"gpubp {gpubp.__version__} ({os.path.dirname(os.path.abspath(gpubp.__file__))})",
             f"python {platform.python_version()} ({sys.executable})",
             f"numpy {np.__version__}, BLAS: {_blas()}"]
    cupy, reason = backend.cupy_status()
    if cupy is None:
        if reason == "not installed":
            lines.append("cupy: not installed")
            lines.append("CUDA: not used (no CuPy)")
        else:
            lines.append(f"cupy: unusable: {reason}")
    else:
        lines.append(f"cupy {cupy.__version__}")
        rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
        lines.append(f"CUDA runtime {rt // 1000}.{rt % 1000 // 10}, driver supports "
                     f"{drv // 1000}.{drv % 1000 // 10}")
    for line in backend.describe().splitlines()[1:]:  # its first line repeats python and numpy
        lines.append(line)
    try:
        device = backend.resolve(None)
        lines.append(f"backend: {'CuPy (GPU)' if device == 'gpu' else 'NumPy (CPU)'}")
    except GpubpError:
        pass
    return lines


def _blas():
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        name = blas.get("name", "unknown")
        version = blas.get("version")
        text = f"{name} {version}" if version and version != "unknown" else name
    except Exception:
        text = "unknown"
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return text
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if pools:
        p = pools[0]
        text += (f" (loaded: {p.get('internal_api')} {p.get('version')}, "
                 f"{p.get('num_threads')} threads)")
    return text


def cmd_demo(args):
    import gpubp

    print(gpubp.describe())
    # XOR: four examples, one per column (X is (n[0], m) = (2, 4)), labels in a (1, 4) row
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
    Y = np.array([[0, 1, 1, 0]], dtype=float)
    net = gpubp.Network([2, 8, 1], activation="tanh", output="sigmoid", loss="bce", seed=0)
    print(net)
    history = net.fit(X, Y, epochs=300, batch_size=4, optimizer="adam", lr=0.05)
    print(f"cost {history['cost'][0]:.3f} -> {history['cost'][-1]:.4f}")
    print("A[L] =", backend.to_host(net.forward(X)).round(3))
    print(gpubp.gradcheck(net, X, Y))
    return 0
