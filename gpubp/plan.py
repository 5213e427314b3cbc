"""Plan: the training step of one graph for one batch size m, in a fixed schedule of kept buffers.

Everything that drives a network (``fit``, ``gradcheck``, ``trace``, the benchmarks, later
data-parallel training and captured CUDA graphs) goes through this one interface::

    plan = net.plan(m)
    plan.stage(X, Y, columns=idx)   # copy (gather) a batch into the plan's input and target buffers
                                    # (and, with weights=w, the examples' weights: below)
    plan.forward()                  # Z = sum_k W_k A_k + b, A = chi(Z), layer by layer
    plan.cost()                     # 0-d device array: no transfer
    plan.backward(m_global)         # dZ, dW (+=), dA (+=), db into the network's flat gradient buffer
    plan.step(optimizer)            # one fused update over the flat buffers

The schedule is fixed when the plan is built: for every gradient and every ``dA`` the first
contribution writes and the later ones add (an accumulating GEMM), so nothing is zeroed and,
once warmed up, a step allocates nothing.

Each pass is a flat list of calls bound to their buffers when the plan is built
(:meth:`gpubp.kernels.Kernel.bind`, :meth:`gpubp.activations.Activation.bind`,
:func:`gpubp.backend.bind_matmul`): the choice between a fused loop and a NumPy twin is made
once. So an activation (or a subclass's own step) is the one of its network when the plan is
made; ``net.plan(m)`` keeps its plans, and a new network binds anew.

Buffers of a layer (:class:`LayerBuffers`), each ``(n, m)``: ``A``; ``Z``, which holds the sum
``W A`` (for hidden layers the bias is added inside the fused kernel ``A = chi(Z + b)``, since no
derivative needs ``Z``: each is read from ``A``), and which the backward pass reuses for
``dA``; and ``dZ``. An output layer's ``Z`` holds its logits (bias included): the stable costs
read them.

A sparse input (``net.plan(m, sparse={name})``, :mod:`gpubp.sparse`) holds each staged batch's
CSR rows instead of a dense buffer, and its two products (``W A`` forward, ``dZ A^T`` backward)
are the sparse ones; a sparse batch is a new matrix at each stage, the dense buffers are kept.

Example weights (``stage(..., weights=w, divisor=s)``, ``w`` an ``(M,)`` device array gathered
like ``Y``): the cost becomes ``sum_j w_j loss_j / s`` (``s``: the batch's sum of weights, the
global batch's in data-parallel training) and the penalty ``l2 / (2 s) sum ||W||^2``; the backward
pass takes ``s`` for ``m`` in the output delta and scales ``dZ[L]`` column by column by ``w``
(the fused delta and the chain rule alike: every gradient is linear in ``dZ[L]``). So integer
weights are repeated examples. Each ``stage`` without weights goes back to the plain mean.
"""

import functools

from . import backend, kernels
from . import sparse as _sparse
from .losses import is_fused
from .errors import GpubpError


class LayerBuffers:
    """``Z``, ``A`` and ``dZ`` of one layer for m examples (``dZ`` is None in a forward-only plan)."""

    __slots__ = ("Z", "A", "dZ")

    def __init__(self, xp, n, m, dtype, train):
        self.Z = xp.empty((n, m), dtype)                     # (n, m): W A, then dA in backward
        self.A = xp.empty((n, m), dtype)                     # (n, m)
        self.dZ = xp.empty((n, m), dtype) if train else None  # (n, m)


class Plan:
    """The step of ``graph`` for batches of exactly ``m`` examples (see the module docstring).

    ``plan.X[name]`` and ``plan.Y[name]`` are the staged inputs and targets; ``plan.buffers[name]``
    the :class:`LayerBuffers` of each layer, by layer name.
    """

    def __init__(self, graph, m, train=True, sparse=frozenset()):
        xp, dtype = graph.xp, graph.dtype
        numpy = xp.__name__ == "numpy"
        self.graph, self.m, self.train = graph, m, train
        # the inputs are (n, m) views of (m, n) buffers: a batch gathered from example-major data
        # (fit keeps its copy of X so) is m contiguous rows, several times faster than m columns;
        # a sparse input (named in ``sparse``) holds each staged batch's CSR rows
        self.X = {name: _sparse.SparseColumns(None) if name in sparse else
                  xp.empty((m, node.n), dtype).T for name, node in graph.inputs.items()}
        self.Y = {o.name: xp.empty((o.n, m), dtype) for o in graph.outputs}
        self.buffers = {name: LayerBuffers(xp, layer.n, m, dtype, train)
                        for name, layer in graph.layers.items()}
        self.ones = xp.ones((m, 1), dtype) if train else None  # (m, 1): the 1^T of db = dZ 1^T
        # what the cost writes in: (n, m) buffers of its own (an output's dZ, free between forward
        # and backward, is not: cost() after backward() would overwrite the dZ[L] that
        # contributions() read); none in a forward-only plan (the cost allocates)
        self._cost_scratch = {o.name: tuple(xp.empty((o.n, m), dtype)
                                            for _ in range(graph.loss.scratches))
                              for o in graph.outputs} if train else {}
        uses = graph.uses()
        # NumPy adds a product to a gradient through scratch; cuBLAS accumulates in place
        self._grad_scratch = {name: xp.empty(graph.param_nodes[name].shape, dtype)
                              for name, u in uses.items() if numpy and train and len(u) > 1}
        self._step_scratch = xp.empty(graph.params.flat.shape, dtype) if numpy and train else None
        self._weights = [(graph.params[p.name], graph.grads[p.name]) for p in graph.param_nodes.values()
                         if p.role == "weight"]
        # each pass is a flat list of calls bound to the buffers: a step runs them in order
        self._forward_calls = [c for layer in graph.layers.values() for c in self._layer_forward(layer)]
        self._m_global = m  # the m of the 1/m in the output delta: set by each backward
        self.w = None          # (m,): the staged examples' weights (made when first staged)
        self._divisor = None   # their sum, the cost's divisor; None: unweighted
        self._backward_calls = self._backward_schedule() if train else []

    def value(self, node):
        """The staged ``(n, m)`` array of an input, or the activation ``A`` of a layer."""
        return self.X[node.name] if node.kind == "input" else self.buffers[node.name].A

    # ---- forward -------------------------------------------------------------------------

    def _layer_forward(self, layer):
        """The calls of one layer's forward pass, each bound to its buffers."""
        P = self.graph.params
        B = self.buffers[layer.name]
        scratch = B.dZ  # free during the forward pass (None in a forward-only plan: twins allocate)
        calls = [_product(P[t.W.name], self.value(t.A), B.Z, i > 0, scratch)
                 for i, t in enumerate(layer.terms)]
        b = P[layer.bias.name] if layer.bias is not None else None
        act = layer.activation
        if layer in self.graph.outputs:
            if b is not None:
                calls.append(kernels.bias_identity.bind(B.Z, b, B.Z))  # the output keeps its logits Z
            calls.append(act.bind("forward", B.Z, B.A, scratch=scratch))
        elif b is not None:
            calls.append(act.bind("forward_bias", B.Z, b, B.A, scratch=scratch))  # A = chi(W A + b)
        else:
            calls.append(act.bind("forward", B.Z, B.A, scratch=scratch))
        return calls

    def stage(self, X, Y=None, columns=None, weights=None, divisor=None):
        """Copy a batch into the plan: ``X`` ``{input: (n, M) device array}`` (checked), ``Y``
        likewise for the outputs; ``columns`` (a device index array of length m) picks the
        examples, else the arrays must have exactly m columns. Gathering is fastest from
        example-major (Fortran-ordered (n, M)) arrays, which ``fit`` makes once.

        ``weights``: the examples' weights, an ``(M,)`` device array in the network's dtype,
        picked by ``columns`` likewise; ``divisor``: what the weighted cost divides by (a float:
        the global batch's sum of weights; by default the staged weights' sum). Without
        ``weights`` the plan is unweighted (the mean over the m columns)."""
        xp = self.graph.xp
        self._divisor = None
        if weights is not None:
            if self.w is None:
                self.w = xp.empty((self.m,), self.graph.dtype)
            if columns is None:
                self.w[...] = weights
            else:
                _take(xp, weights, columns, 0, self.w)
            self._divisor = float(self.w.sum()) if divisor is None else float(divisor)
        for src, dst in ((X, self.X), (Y or {}, self.Y)):
            for name, a in src.items():
                if isinstance(dst[name], _sparse.SparseColumns):
                    dst[name].rows = _sparse_rows(a, columns, self.m, name)
                elif columns is None:
                    dst[name][...] = a
                elif a.flags.f_contiguous and dst[name].flags.f_contiguous:
                    _take(xp, a.T, columns, 0, dst[name].T)  # rows of example-major data
                else:
                    _take(xp, a, columns, 1, dst[name])

    def forward(self):
        """Run ``Z = sum_k W_k A_k (+ b)``, ``A = chi(Z)`` for every layer; returns
        ``{output name: A}`` (live buffers: copy what must outlive the next call)."""
        for call in self._forward_calls:
            call()
        return {o.name: self.buffers[o.name].A for o in self.graph.outputs}

    def cost(self, l2=0.0):
        """The cost of the staged batch (after :meth:`forward`), a 0-d array on the device: the
        sum over the outputs of the loss, each a mean over the m examples, plus, with ``l2``, the
        penalty ``l2 / (2 m) sum ||W||^2`` over the weights (not the biases). Weighted (staged
        with weights): ``sum_j w_j loss_j / s`` and ``l2 / (2 s) sum ||W||^2``."""
        loss = self.graph.loss
        total = None
        for o in self.graph.outputs:
            B = self.buffers[o.name]
            Z = B.Z if _fused(loss, o) else None
            if self._divisor is None:
                c = loss.value(B.A, self.Y[o.name], Z, scratch=self._cost_scratch.get(o.name))
            else:
                c = loss.weighted_value(B.A, self.Y[o.name], self.w, self._divisor, Z)
            total = c if total is None else total + c
        if l2:
            total = total + self.penalty(l2, self.m if self._divisor is None else self._divisor)
        return total

    def penalty(self, l2, m):
        """``l2 / (2 m) sum ||W||^2`` over the weights (not the biases), a 0-d device array."""
        xp = self.graph.xp  # ||W||^2 as a dot of the flat view with itself: no temporary
        return sum(xp.vdot(W.ravel(), W.ravel()) for W, _ in self._weights) * (0.5 * l2 / m)

    # ---- backward ------------------------------------------------------------------------

    def _backward_schedule(self):
        """The backward calls, in reverse layer order, with write-or-add decided once."""
        graph = self.graph
        P, G = graph.params, graph.grads
        written = set()  # parameters and layers whose gradient buffer holds a first contribution

        def add(key):  # the first contribution writes, later ones add
            if key in written:
                return True
            written.add(key)
            return False

        calls = []
        for layer in reversed(list(graph.layers.values())):
            B = self.buffers[layer.name]
            calls.append(self._delta_call(layer, B))
            for t in layer.terms:
                calls.append(_weight_gradient(                                 # dW (+)= dZ A^T
                    B.dZ, self.value(t.A), G[t.W.name], add(("p", t.W.name)),
                    self._grad_scratch.get(t.W.name)))
                if t.A.kind != "input":
                    S = self.buffers[t.A.name]                                 # dA (+)= W^T dZ
                    calls.append(backend.bind_matmul(P[t.W.name].T, B.dZ, S.Z,
                                                     add(("a", t.A.name)), S.dZ))
            if layer.bias is not None:                                        # db (+)= dZ 1^T
                calls.append(backend.bind_matmul(
                    B.dZ, self.ones, G[layer.bias.name], add(("p", layer.bias.name)),
                    self._grad_scratch.get(layer.bias.name)))
        # a parameter no layer uses has gradient 0 (plus the penalty's, added after): written
        # each step, since the buffer is shared with every other plan of the network
        unused = [functools.partial(G[name].fill, 0) for name in graph.param_nodes
                  if ("p", name) not in written]
        return unused + calls

    def _delta_call(self, layer, B):
        """The call that makes a layer's dZ: the fused output delta, or dZ = dA * chi'(Z) (after
        dA = dCost/dA for an output)."""
        loss, act = self.graph.loss, layer.activation
        if layer not in self.graph.outputs:
            return act.bind("backward", B.A, B.Z, B.dZ)   # dA (in Z) * chi'(Z), chi' read from A
        Y = self.Y[layer.name]
        if _fused(loss, layer):
            def unweighted():
                loss.output_delta(act, B.A, Y, self._m_global, B.dZ)  # dZ = c (A - Y) / m
        else:
            def unweighted():
                loss.dA(B.A, Y, self._m_global, out=B.Z, scratch=B.dZ)  # dA = dCost/dA
                act.backward(B.A, B.Z, B.dZ)

        def delta():
            unweighted()
            if self._divisor is not None:  # column j of dZ[L] times w_j (the 1/m was 1/s)
                B.dZ *= self.w
        return delta

    def backward(self, m=None, l2=0.0):
        """Fill the network's gradient buffer: ``grads[name]`` = dCost/d(parameter).

        ``m`` is the batch size that the ``1/m`` of the cost uses: this plan's m by default (the
        staged weights' divisor when weighted); the global batch size (or sum of weights) in
        data-parallel training, where each process holds a share of it.
        ``l2`` adds the gradient of the penalty ``l2 / (2 m) sum ||W||^2``: ``dW += (l2 / m) W``.
        """
        if not self.train:
            raise GpubpError("a forward-only plan has no backward pass")
        if m is None:
            m = self.m if self._divisor is None else self._divisor
        self._m_global = m
        for call in self._backward_calls:
            call()
        if l2:
            self.penalty_gradient(l2, m)

    def penalty_gradient(self, l2, m):
        """``dW += (l2 / m) W`` for every weight: the gradient of :meth:`penalty`."""
        for W, dW in self._weights:
            kernels.axpy(W, l2 / m, dW, scratch=self._scratch_like(dW))

    def _scratch_like(self, a):
        """A NumPy-only scratch view shaped like ``a`` (a view of the flat buffers), or None."""
        if self._step_scratch is None:
            return None
        return self._step_scratch[:a.size].reshape(a.shape)

    def step(self, optimizer):
        """Update the parameters from the gradients: one fused kernel over the flat buffers."""
        optimizer.step(self.graph.params, self.graph.grads, scratch=self._step_scratch)

    def train_step(self, optimizer, cost=True, m=None, l2=0.0):
        """forward, cost (if asked), backward, step. Returns the batch cost (0-d, on the device)."""
        self.forward()
        c = self.cost(l2) if cost else None
        self.backward(m, l2)
        self.step(optimizer)
        return c

    # ---- for learners: one term per use --------------------------------------------------

    def contribution_keys(self):
        """``{parameter: [key, ...]}``: the key of each use's term in :meth:`contributions`, in the
        order of ``graph.uses()[parameter]``. A use is named by its layer; where a layer uses the
        parameter more than once, by ``"layer: W A"``, numbered ``(1)``, ``(2)`` if the same term
        repeats."""
        out = {}
        for name, uses in self.graph.uses().items():
            labels = [layer.name if sum(l2 is layer for l2, _ in uses) == 1 else
                      f"{layer.name}: {t if t else name}" for layer, t in uses]
            seen, first = {}, list(labels)
            for i, label in enumerate(first):
                if first.count(label) > 1:
                    seen[label] = seen.get(label, 0) + 1
                    labels[i] = f"{label} ({seen[label]})"
            out[name] = labels
        return out

    def contributions(self):
        """``{parameter: {use: array}}`` after :meth:`backward`: each use's own term (new arrays),
        ``dZ A^T`` for a weight and ``dZ 1^T`` for a bias, keyed as :meth:`contribution_keys`
        says."""
        xp = self.graph.xp
        keys = self.contribution_keys()
        out = {}
        for name, uses in self.graph.uses().items():
            terms = {}
            for (layer, t), key in zip(uses, keys[name]):
                dZ = self.buffers[layer.name].dZ
                if t:
                    terms[key] = xp.empty(self.graph.param_nodes[name].shape, dZ.dtype)
                    _weight_gradient(dZ, self.value(t.A), terms[key], False, None)()
                else:
                    terms[key] = xp.matmul(dZ, self.ones)
            out[name] = terms
        return out


def _product(W, A, out, accumulate, scratch):
    """The bound call ``out (+)= W A``: A dense, or a sparse input (:mod:`gpubp.sparse`)."""
    if isinstance(A, _sparse.SparseColumns):
        return functools.partial(_sparse.product, W, A, out, accumulate)
    return backend.bind_matmul(W, A, out, accumulate=accumulate, scratch=scratch)


def _weight_gradient(dZ, A, out, accumulate, scratch):
    """The bound call ``out (+)= dZ A^T``: A dense, or a sparse input."""
    if isinstance(A, _sparse.SparseColumns):
        return functools.partial(_sparse.weight_gradient, dZ, A, out, accumulate)
    return backend.bind_matmul(dZ, A.T, out, accumulate, scratch)


def _sparse_rows(a, columns, m, name):
    """The CSR rows ``(m, n)`` of a batch of the sparse input ``a`` (a SparseColumns)."""
    if not isinstance(a, _sparse.SparseColumns):
        raise GpubpError(f"input {name} of this plan is sparse; stage it as the SparseColumns "
                         f"that check_inputs makes of a sparse matrix, got {type(a).__name__}")
    rows = a.rows if columns is None else a.rows[columns]
    if rows.shape[0] != m:
        raise GpubpError(f"this plan takes batches of m = {m} examples; input {name} has "
                         f"{rows.shape[0]}")
    return rows


def _take(xp, a, columns, axis, out):
    """``out = a.take(columns, axis)``. NumPy's default mode ("raise") buffers ``out``, a copy of
    the whole batch each step; the columns are a permutation's, always in range: "clip" writes
    straight into it."""
    if xp.__name__ == "numpy":
        a.take(columns, axis, out, "clip")  # the method: np.take adds a Python layer
    else:
        xp.take(a, columns, axis=axis, out=out)


def _fused(loss, layer):
    return is_fused(loss, layer.activation)
