"""Seed 002: the 2-3-2 sigmoid network with L = 1/2 sum (y_hat - y)^2, and the layout question.

Which way round is dL/dW? gpubp (and the notes) use the denominator layout: a gradient has the
shape of what it differentiates, so dW[2] is (2, 3) like W[2], and W - lr dW lines up. Entry by
entry, dL/dW_ij = dL/dz_i a_j: row i of dW is dZ_i times the incoming activations.
"""

import numpy as np

import gpubp

net = gpubp.Network([2, 3, 2], activation="sigmoid", output="sigmoid", loss="half_sse",
                     dtype="float64", seed=0)
print(gpubp.explain(net, m=1, check=True))

rng = np.random.default_rng(0)
x, y = rng.normal(size=(2, 1)), rng.uniform(size=(2, 1))
t = gpubp.trace(net, x, y)
_, grads = net.gradients(x, y)
i, j = 1, 2
entry = t["dZ[2]"][i, 0] * t["A[1]"][j, 0]
print(f"\ndW[2] has shape {grads.W[2].shape}, like W[2] {net.W[2].shape}")
print(f"dL/dW[2]_{i}{j} = dZ[2]_{i} A[1]_{j}: {grads.W[2][i, j]:.12f} = {entry:.12f}")
print(gpubp.gradcheck(net, x, y))
