"""trace: every intermediate of one forward and backward pass, named as in the notes.

``gpubp.trace(net, X, Y)`` runs one pass and returns host (NumPy) copies of each layer's ``Z``,
``A`` and ``dZ``, each parameter's gradient and, for a parameter used more than once, each use's
contribution: for a chain ``Z[1]``, ``A[1]``, ``dZ[1]``, ``dW[1]``, ``db[1]``, ...; for seed
000's graph ``Z_H1``, ``H1``, ``dZ_H1``, ``dWx`` and ``dWx`` from ``H1`` and from ``H2``.
"""

from . import backend, sparse


class LayerTrace:
    """``Z``, ``A``, ``dZ`` of one layer, ``(n, m)`` NumPy arrays, with their symbols."""

    def __init__(self, layer, Z, A, dZ):
        self.layer, self.Z, self.A, self.dZ = layer, Z, A, dZ

    def __repr__(self):
        l = self.layer
        return f"{l.z} {self.Z.shape}, {l.symbol} {self.A.shape}, {l.dz} {self.dZ.shape}"


class Trace:
    """One pass, on the host: ``trace.layers[name]`` (a :class:`LayerTrace`), ``trace.grads[p]``,
    ``trace.contributions[p]`` (``{use: array}``), ``trace.cost``; ``trace["Z[1]"]`` and
    ``trace["dW[1]"]`` reach any of them by its symbol, ``list(trace)`` lists the symbols in the
    order of the pass: forward, then backward."""

    def __init__(self, cost, layers, grads, contributions):
        self.cost, self.layers, self.grads, self.contributions = cost, layers, grads, contributions
        self.arrays = {}
        for t in layers.values():
            self.arrays[t.layer.z] = t.Z
            self.arrays[t.layer.symbol] = t.A
        for t in reversed(list(layers.values())):
            self.arrays[t.layer.dz] = t.dZ
        for name, g in grads.items():
            self.arrays["d" + name] = g

    def __getitem__(self, symbol):
        return self.arrays[symbol]

    def __iter__(self):
        return iter(self.arrays)

    def __repr__(self):
        return "\n".join([f"cost {self.cost:.6g}"] + [f"{k} {v.shape}" for k, v in self.arrays.items()])


def trace(net, X, Y):
    """One forward and backward pass of ``net`` on ``X``, ``Y``; every intermediate as NumPy arrays.

    ``Z`` is the sum ``sum_k W_k A_k + b`` of each layer, as the notes write it. (In the training
    step a hidden layer's bias is added inside its activation kernel and its ``Z`` buffer is
    reused for ``dA``, so the trace forms ``Z`` from the pass's own ``A`` and parameters.)
    """
    plan, cost = net.forward_pass(X, Y)
    Z = {}
    for name, layer in net.layers.items():
        z = sum(sparse.times(net.params[t.W.name], plan.value(t.A)) for t in layer.terms)
        if layer.bias is not None:
            z = z + net.params[layer.bias.name]
        Z[name] = backend.to_host(z)
    A = {name: backend.to_host(plan.buffers[name].A).copy() for name in net.layers}
    plan.backward()
    layers = {name: LayerTrace(layer, Z[name], A[name],
                               backend.to_host(plan.buffers[name].dZ).copy())
              for name, layer in net.layers.items()}
    grads = {name: backend.to_host(g).copy() for name, g in net.grads.items()}
    contributions = {name: {k: backend.to_host(v) for k, v in uses.items()}
                     for name, uses in plan.contributions().items()}
    return Trace(cost, layers, grads, contributions)
