"""Seed 001: backprop through m hidden layers to one output with squared error, in matrix form.

The learner's network: x (p, 1) -> hidden sigmoid layers of n units -> one output, no biases,
loss (y_hat - y)^2 per example (gpubp's ``sse``; for one output it equals ``mse``). The answer's
modular view: each layer receives the upstream gradient, passes ``W^T dZ`` down, and keeps
``dZ A^T`` as its weight gradient. Here with 3 hidden layers and m = 6 examples as columns.
"""

import numpy as np

import gpubp

p, n, m = 4, 5, 6
net = gpubp.Network([p, n, n, n, 1], activation="sigmoid", output="sigmoid", loss="sse",
                     dtype="float64", seed=1, bias=False)
print(gpubp.explain(net, m=m, check=True))

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(p, m)), rng.uniform(size=(1, m))
W = [None] + [net.W[l] for l in range(1, net.L + 1)]

# the answer's recursion, one example at a time, the way the learner wrote it
want = [None] + [np.zeros_like(W[l]) for l in range(1, net.L + 1)]
for e in range(m):
    a = [X[:, [e]]]
    for l in range(1, net.L + 1):
        a.append(1 / (1 + np.exp(-(W[l] @ a[-1]))))
    delta = 2 * (a[-1] - Y[:, [e]]) * a[-1] * (1 - a[-1])     # d(y_hat - y)^2 / dz at the output
    for l in range(net.L, 0, -1):
        want[l] += delta @ a[l - 1].T / m                      # the cost is the mean over examples
        delta = (W[l].T @ delta) * a[l - 1] * (1 - a[l - 1])   # pass W^T delta down
cost, grads = net.gradients(X, Y)
worst = max(np.abs(grads.W[l] - want[l]).max() / np.abs(want[l]).max() for l in range(1, net.L + 1))
print(f"\nexample by example, as the answer writes it: max relative difference {worst:.1e}")
print(gpubp.gradcheck(net, X, Y))
