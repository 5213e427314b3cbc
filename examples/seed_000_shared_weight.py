"""Seed 000: one weight used by two layers. How does backprop update it?

The question's network, with the follow-up's sizes (3 hidden units, 2-D inputs), no biases,
identity activations, and m examples as the columns of X1 and X2::

    H1 = Wx X1                     (3, m) = (3, 2)(2, m)
    H2 = Wh H1 + Wx X2             (3, m) = (3, 3)(3, m) + (3, 2)(2, m)
    Y_hat = Wy H2                  (1, m) = (1, 3)(3, m)
    cost = 1/(2m) sum (Y_hat - Y)^2

Backward, each gradient shaped like what it differentiates::

    dY_hat = (Y_hat - Y) / m       (1, m)
    dH2 = Wy^T dY_hat              (3, m)
    dH1 = Wh^T dH2                 (3, m)     H1 reaches the cost only through H2
    dWx = dH1 X1^T + dH2 X2^T      (3, 2)     one term per use of Wx, added

The follow-up asked how "(Wh)^T (X1)^T" can multiply: it cannot, and it is not the gradient.
The term from H1 is dH1 X1^T = (Wh^T dH2) X1^T: Wh^T acts on dH2 from the left, X1^T from the
right, (3, 3)(3, m)(m, 2) = (3, 2).
"""

import numpy as np

import gpubp
from gpubp.backend import to_host

# ---- the graph, written as its equations -------------------------------------------------
g = gpubp.Graph(dtype="float64", seed=0)
X1, X2 = g.input("X1", 2), g.input("X2", 2)
Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (1, 3))
H1 = g.layer("H1", Wx @ X1)
H2 = g.layer("H2", Wh @ H1 + Wx @ X2)
Y_hat = g.layer("Y_hat", Wy @ H2)
g.output(Y_hat, loss="half_sse")
print(g)
print()
# every equation with every shape, each checked against NumPy and finite differences
print(gpubp.explain(g, m=4, check=True))

# ---- m = 4 examples, one per column -------------------------------------------------------
rng = np.random.default_rng(0)
m = 4
X = {"X1": rng.normal(size=(2, m)), "X2": rng.normal(size=(2, m))}
Y = rng.normal(size=(1, m))

# every intermediate of one pass, with its shape (gpubp.trace keeps the arrays too)
print()
print(gpubp.trace(g, X, Y))

cost, grads = g.gradients(X, Y)
dWx = to_host(grads["Wx"])
parts = {use: to_host(v) for use, v in grads.contributions("Wx").items()}
print(f"\ncost = {cost:.6f}")
print(f"dWx {dWx.shape} =\n{dWx}")
print(f"from H1: dH1 X1^T {parts['H1'].shape} =\n{parts['H1']}")
print(f"from H2: dH2 X2^T {parts['H2'].shape} =\n{parts['H2']}")
print(f"sum of the two uses - dWx: max |difference| = "
      f"{np.abs(parts['H1'] + parts['H2'] - dWx).max():.1e}")

# ---- the same, by hand in NumPy -----------------------------------------------------------
P = {name: to_host(v) for name, v in g.params.items()}
h1 = P["Wx"] @ X["X1"]
h2 = P["Wh"] @ h1 + P["Wx"] @ X["X2"]
dY = (P["Wy"] @ h2 - Y) / m               # (1, m)
dH2 = P["Wy"].T @ dY                      # (3, m)
dH1 = P["Wh"].T @ dH2                     # (3, m)
by_hand = dH1 @ X["X1"].T + dH2 @ X["X2"].T
print(f"\nby hand, dH1 X1^T + dH2 X2^T: max |difference| from gpubp = "
      f"{np.abs(by_hand - dWx).max():.1e}")

# ---- and against finite differences -------------------------------------------------------
print("\nfinite differences (gpubp.gradcheck):")
print(gpubp.gradcheck(g, X, Y))
