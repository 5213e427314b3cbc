"""The fit loop: shuffled mini-batches, epochs, validation, early stopping, history, progress.

The data cross to the device once per call of :func:`fit`; each epoch draws one permutation on
the host (seeded) and sends it over; each batch is gathered into the workspace's ``X``/``Y``
buffers (no allocation). The cost of each batch is summed on the device and comes back to the
host once per epoch, when it is reported.
"""

import time

import numpy as np

from . import backend, optim


class History(dict):
    """``history["cost"][e]``: mean cost over the batches of epoch e (before each batch's update);
    ``history["val_cost"][e]``: cost on the validation data after epoch e (if given)."""

    @property
    def epochs(self):
        return len(self["cost"])


def fit(net, X, Y, epochs=10, batch_size=32, optimizer="adam", lr=None, validation_data=None,
        shuffle=True, seed=None, patience=None, min_delta=0.0, verbose=False, callback=None):
    """Train ``net`` on the columns of ``X`` ``(n[0], M)`` and ``Y`` ``(n[L], M)``.

    Parameters
    ----------
    epochs : int
        Passes over the data.
    batch_size : int
        Examples per step (the last batch of an epoch may be smaller).
    optimizer : "sgd", "momentum", "adam" or an :class:`~gpubp.optim.Optimizer`
    lr : float, default 1e-3 for adam, 0.01 otherwise
    validation_data : (X_val, Y_val), optional
        Scored after every epoch into ``history["val_cost"]``.
    shuffle : bool
        Draw a new order of the examples every epoch.
    seed : int, optional
        Seeds the shuffling; defaults to the network's seed, so that a seeded network trains the
        same way every time.
    patience : int, optional
        Early stopping: stop when the monitored cost (validation cost if given, else training
        cost) has not improved by more than ``min_delta`` for ``patience`` epochs, and restore
        the parameters of the best epoch.
    verbose : bool
        Print one line per epoch.
    callback : callable(epoch, history), optional
        Called after every epoch; return True to stop.

    Returns
    -------
    History
    """
    xp = net.xp
    X = net.check_X(X)
    Y = net.check_Y(Y, X.shape[1])
    M = X.shape[1]
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 0):
        raise ValueError(f"epochs must be a non-negative integer; got {epochs!r}")
    batch_size = min(int(batch_size), M)
    if validation_data is not None:
        Xv = net.check_X(validation_data[0])
        Yv = net.check_Y(validation_data[1], Xv.shape[1])
    opt = optim.get(optimizer, lr)
    rng = np.random.default_rng(net.seed if seed is None else seed)

    history = History(cost=[])
    if validation_data is not None:
        history["val_cost"] = []
    monitor = "val_cost" if validation_data is not None else "cost"
    best, best_params, waited = np.inf, None, 0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = xp.asarray(rng.permutation(M)) if shuffle else xp.arange(M)
        total = xp.zeros((), dtype=net.dtype)
        for start in range(0, M, batch_size):
            idx = order[start:start + batch_size]
            ws = net._workspace(idx.shape[0])
            xp.take(X, idx, axis=1, out=ws.X)  # (n[0], mb)
            xp.take(Y, idx, axis=1, out=ws.Y)  # (n[L], mb)
            total += net.train_step(ws.X, ws.Y, opt, cost=True) * idx.shape[0]
        history["cost"].append(float(backend.to_host(total)) / M)  # the epoch's one transfer
        line = f"epoch {epoch + 1}/{epochs}  cost {history['cost'][-1]:.6g}"
        if validation_data is not None:
            history["val_cost"].append(_cost_in_chunks(net, Xv, Yv, batch_size))
            line += f"  val_cost {history['val_cost'][-1]:.6g}"
        if verbose:
            print(f"{line}  ({time.perf_counter() - t0:.2f} s)", flush=True)
        if patience is not None:
            current = history[monitor][-1]
            if current < best - min_delta:
                best, waited = current, 0
                best_params = [p.copy() for p in net.parameters()]
            else:
                waited += 1
                if waited >= patience:
                    if verbose:
                        print(f"early stop: {monitor} has not improved for {patience} epochs; "
                              f"restoring the best ({best:.6g})", flush=True)
                    break
        if callback is not None and callback(epoch, history):
            break
    if best_params is not None:
        for p, saved in zip(net.parameters(), best_params):
            p[...] = saved
    return history


def _cost_in_chunks(net, X, Y, chunk):
    """The cost over all columns of X, a chunk at a time (bounded memory), as a float."""
    xp = net.xp
    M = X.shape[1]
    total = xp.zeros((), dtype=net.dtype)
    for start in range(0, M, chunk):
        Xc, Yc = X[:, start:start + chunk], Y[:, start:start + chunk]
        ws = net._workspace(Xc.shape[1])
        net._forward(ws, Xc)
        total += net._cost(ws, Yc) * Xc.shape[1]
    return float(backend.to_host(total)) / M
