"""Seed 004: the notes' vectorized binary classifier over m examples.

One tanh hidden layer, a sigmoid output and binary cross-entropy, the m examples as the columns
of X (eqs. 13-23). With the canonical pair the output delta is dZ[2] = (A[2] - Y) / m (eq. 18).
The notes' eq. (17) writes 1 - log A where log(1 - A) is meant; gpubp implements eq. (6).
"""

import numpy as np

import gpubp

m = 8
net = gpubp.Network([3, 4, 1], activation="tanh", output="sigmoid", loss="bce",
                     dtype="float64", seed=0)
print(gpubp.explain(net, m=m, check=True))

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(3, m)), rng.integers(0, 2, size=(1, m)).astype(float)
W1, b1, W2, b2 = net.W[1], net.b[1], net.W[2], net.b[2]
A1 = np.tanh(W1 @ X + b1)                                # (13), (14)
A2 = 1 / (1 + np.exp(-(W2 @ A1 + b2)))                   # (15), (16)
dZ2 = (A2 - Y) / m                                       # (18)
dW2, db2 = dZ2 @ A1.T, dZ2.sum(axis=1, keepdims=True)    # (19), (20)
dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)                       # (21)
dW1, db1 = dZ1 @ X.T, dZ1.sum(axis=1, keepdims=True)     # (22), (23)
_, g = net.gradients(X, Y)
worst = max(np.abs(a - b).max() / np.abs(b).max()
            for a, b in [(g.W[2], dW2), (g.b[2], db2), (g.W[1], dW1), (g.b[1], db1)])
print(f"\neqs. (13)-(23) by hand against backprop: max relative difference {worst:.1e}")
print(gpubp.gradcheck(net, X, Y))
