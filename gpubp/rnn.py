"""ElmanRNN: the Elman recurrent network of seed 000's follow-up, unrolled over T steps on a Graph.

::

    h[0] = 0
    h[t] = chi(Wh h[t-1] + Wx x[t] + bh)             t = 1..T    (h[1] = chi(Wx x[1] + bh))
    y_hat = chi_out(Wy h[T] + by)                                 outputs="last"
    y_hat[t] = chi_out(Wy h[t] + by)                 t = 1..T    outputs="all"

``Wx`` ``(n_h, n_x)``, ``Wh`` ``(n_h, n_h)``, ``bh`` ``(n_h, 1)``, ``Wy`` ``(n_y, n_h)`` and ``by``
``(n_y, 1)`` are shared across time: each is one parameter used at every step, so its gradient is
the sum of one contribution per step, ``dWx = sum_t dZ_h[t] x[t]^T`` (backpropagation through
time, the same engine as every other graph). With ``outputs="all"`` the per-example loss is the
sum over the T steps; the cost stays the mean over the m examples.

Data: ``X`` is ``(T, n_x, m)``; ``Y`` is ``(n_y, m)`` for ``outputs="last"`` and ``(T, n_y, m)``
for ``outputs="all"``. Columns are examples, as everywhere.
"""

import numpy as np

from . import backend
from .errors import ConfigError, DataError, GpubpError, ShapeError
from .graph import Graph
from .specs import (activation_from_spec, activation_spec, loss_from_spec, loss_spec, register,
                    seed_spec, within_caps)

OUTPUTS = ("last", "all")


@register
class ElmanRNN(Graph):
    """An Elman RNN unrolled over ``T`` steps (see the module docstring).

    Parameters
    ----------
    n_x, n_h, n_y : int
        Sizes of the input at each step, the hidden state and the output.
    T : int
        Steps to unroll.
    activation : str
        chi of the hidden state (tanh by default).
    output, loss : str
        The output activation and the loss, as for :class:`gpubp.Network`.
    outputs : "last" or "all"
        An output after the last step only, or after every step.
    dtype, device, seed : as for :class:`gpubp.Graph`
    """

    def __init__(self, n_x, n_h, n_y, T, activation="tanh", output="sigmoid", loss="bce",
                 outputs="last", dtype="float32", device=None, seed=None):
        for name, v in (("n_x", n_x), ("n_h", n_h), ("n_y", n_y), ("T", T)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be a positive integer; got {v!r}")
        if outputs not in OUTPUTS:
            raise ConfigError(f"outputs must be 'last' or 'all'; got {outputs!r}")
        super().__init__(dtype, device, seed)
        self.n_x, self.n_h, self.n_y, self.T, self.outputs_at = int(n_x), int(n_h), int(n_y), int(T), outputs
        x = [self.input(f"x[{t}]", n_x) for t in range(1, T + 1)]
        Wx = self.weight("Wx", (n_h, n_x))
        Wh = self.weight("Wh", (n_h, n_h))
        bh = self.bias("bh", n_h)
        Wy = self.weight("Wy", (n_y, n_h))
        by = self.bias("by", n_y)
        h, outs = None, []
        for t in range(1, T + 1):
            expr = Wx @ x[t - 1] + bh if h is None else Wh @ h + Wx @ x[t - 1] + bh
            h = self.layer(f"h[{t}]", expr, activation=activation, z=f"Z_h[{t}]", dz=f"dZ_h[{t}]")
            if outputs == "all":
                outs.append(self.layer(f"y_hat[{t}]", Wy @ h + by, activation=output,
                                       z=f"Z_y[{t}]", dz=f"dZ_y[{t}]"))
        if outputs == "last":
            outs.append(self.layer("y_hat", Wy @ h + by, activation=output, z="Z_y", dz="dZ_y"))
        super().output(outs, loss=loss)

    def __repr__(self):
        return (f"ElmanRNN(n_x={self.n_x}, n_h={self.n_h}, n_y={self.n_y}, T={self.T}, "
                f"activation={self.layers['h[1]'].activation.name!r}, "
                f"output={self.outputs[0].activation.name!r}, loss={self.loss.name!r}, "
                f"outputs={self.outputs_at!r}, dtype={self.dtype.name!r}, device={self.device!r})")

    def output(self, *args, **kwargs):
        raise GpubpError("an ElmanRNN is complete when made; build a gpubp.Graph for other outputs")

    # ---- its record: the constructor's arguments ---------------------------------------------

    def spec_fields(self):
        return {"n_x": self.n_x, "n_h": self.n_h, "n_y": self.n_y, "T": self.T,
                "activation": activation_spec(self.layers["h[1]"].activation),
                "output": activation_spec(self.outputs[0].activation), "loss": loss_spec(self.loss),
                "outputs": self.outputs_at, "seed": seed_spec(self.seed), "params": self.param_specs()}

    @classmethod
    def spec_counts(cls, spec, f):
        n_x, n_h, n_y, T = (f.count(spec, k) for k in ("n_x", "n_h", "n_y", "T"))
        P = n_h * (n_x + n_h + 1) + n_y * (n_h + 1)  # Wx, Wh, bh, Wy, by
        return within_caps(P, 3 * T, f)  # T inputs, T states, up to T outputs

    @classmethod
    def from_spec_fields(cls, spec, f, dtype, device, seed):
        return cls(*(f.count(spec, k) for k in ("n_x", "n_h", "n_y", "T")),
                   activation=activation_from_spec(f.get(spec, "activation", dict), f),
                   output=activation_from_spec(f.get(spec, "output", dict), f),
                   loss=loss_from_spec(spec, f), outputs=f.get(spec, "outputs", str),
                   dtype=dtype, device=device, seed=seed)

    # ---- (T, n, m) arrays <-> one (n, m) array per step -----------------------------------

    def feed(self, X, what="X"):
        """``X`` ``(T, n_x, m)`` as ``{"x[t]": X[t-1]}`` (views, no copy); a dict passes through."""
        if isinstance(X, dict):
            return super().feed(X, what)
        shape = _shape(X, what)
        if len(shape) != 3 or shape[0] != self.T or shape[1] != self.n_x:
            raise ShapeError(f"an ElmanRNN takes {what} as (T, n_x, m) = ({self.T}, {self.n_x}, m): "
                             f"x[t] = {what}[t-1] is (n_x, m), one column per example; got {what} of "
                             f"shape {shape}")
        X = backend.to_device(X, self.xp)
        return {f"x[{t}]": X[t - 1] for t in range(1, self.T + 1)}

    def feed_targets(self, Y, what="Y"):
        """``Y`` ``(n_y, m)`` (outputs="last") or ``(T, n_y, m)`` (outputs="all") as a dict."""
        if isinstance(Y, dict) or self.outputs_at == "last":
            return super().feed_targets(Y, what)
        shape = _shape(Y, what)
        if len(shape) != 3 or shape[0] != self.T or shape[1] != self.n_y:
            raise ShapeError(f"with outputs='all' {what} is (T, n_y, m) = ({self.T}, {self.n_y}, m): "
                             f"the target of y_hat[t] is {what}[t-1]; got {what} of shape {shape}")
        Y = backend.to_device(Y, self.xp)
        return {f"y_hat[{t}]": Y[t - 1] for t in range(1, self.T + 1)}

    def unfeed(self, outputs):
        """``(n_y, m)`` for outputs="last"; ``(T, n_y, m)`` for outputs="all"."""
        if self.outputs_at == "last":
            return outputs["y_hat"]
        return self.xp.stack([outputs[f"y_hat[{t}]"] for t in range(1, self.T + 1)])


def _shape(data, what):
    """The shape of ``data`` (an array or nested lists); a DataError for ragged lists."""
    try:
        return tuple(getattr(data, "shape", None) or np.shape(data))
    except ValueError as e:
        raise DataError(f"{what} must be an array of numbers (T, n, m); "
                        f"{' '.join(str(e).split())}") from None
