"""Seed 003: E = 1/2 ||sigmoid(W x) - y||^2 by the differential method.

The closed form: dE/dW = (S - S^2)(s - y) x^T with s = sigmoid(W x) and S = Diag(s). gpubp's
backprop for a one-layer network without bias must give exactly that.
"""

import numpy as np

import gpubp

net = gpubp.Network([4, 5], output="sigmoid", loss="half_sse", dtype="float64", seed=0,
                     bias=False)
print(gpubp.explain(net, m=1, check=True))

rng = np.random.default_rng(0)
x, y = rng.normal(size=(4, 1)), rng.uniform(size=(5, 1))
s = 1 / (1 + np.exp(-(net.W[1] @ x)))
S = np.diag(s.ravel())
closed = (S - S @ S) @ (s - y) @ x.T
_, grads = net.gradients(x, y)
print(f"\n(S - S^2)(s - y) x^T against backprop: max relative difference "
      f"{np.abs(grads.W[1] - closed).max() / np.abs(closed).max():.1e}")
print(gpubp.gradcheck(net, x, y))
