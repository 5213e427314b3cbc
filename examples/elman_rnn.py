"""Seed 000's follow-up: an Elman RNN, where X1 is the input at t = 1 and X2 at t = 2.

    h[0] = 0
    h[t] = tanh(Wh h[t-1] + Wx x[t] + bh)        t = 1..T
    y_hat = sigmoid(Wy h[T] + by)

Wx, Wh and bh are the same parameters at every step, so each gets one gradient, the sum of one
contribution per step (backpropagation through time):

    dWx = sum_t dZ_h[t] x[t]^T        dWh = sum_t dZ_h[t] h[t-1]^T        dbh = sum_t dZ_h[t] 1^T

With T = 2, identity activations and zero biases this is exactly seed 000's graph. Below, an RNN
learns the parity of 4 bits: every bit flips the answer, so h must carry it through all 4 steps.
"""

import numpy as np

import gpubp
from gpubp.backend import to_host

# ---- seed 000 as a two-step RNN -----------------------------------------------------------
rnn = gpubp.ElmanRNN(n_x=2, n_h=3, n_y=1, T=2, activation="identity", output="identity",
                     loss="half_sse", dtype="float64", seed=0)
print(rnn)
rng = np.random.default_rng(0)
m = 4
X = rng.normal(size=(2, 2, m))    # (T, n_x, m): x[1] = X[0] is seed 000's X1, x[2] = X[1] its X2
Y = rng.normal(size=(1, m))
_, grads = rnn.gradients(X, Y)
print(f"dWx {tuple(grads['Wx'].shape)}, one contribution per step:")
for step, part in grads.contributions("Wx").items():
    print(f"  from {step}: dZ_{step} x[{step[2:-1]}]^T {tuple(part.shape)}")
print(f"  they sum to dWx: max |difference| = "
      f"{np.abs(to_host(sum(grads.contributions('Wx').values()) - grads['Wx'])).max():.1e}")
print(f"dWh from h[2] only (h[0] = 0): {list(grads.contributions('Wh'))}")

g = gpubp.Graph(dtype="float64", seed=0)              # seed 000's graph, with the RNN's weights
X1, X2 = g.input("X1", 2), g.input("X2", 2)
Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (1, 3))
H1 = g.layer("H1", Wx @ X1)
g.output(g.layer("Y_hat", Wy @ g.layer("H2", Wh @ H1 + Wx @ X2)), loss="half_sse")
for name in ("Wx", "Wh", "Wy"):
    g.params[name] = rnn.params[name]
_, seed_grads = g.gradients({"X1": X[0], "X2": X[1]}, Y)
print(f"seed 000's graph gives the same dWx: max |difference| = "
      f"{np.abs(to_host(seed_grads['Wx'] - grads['Wx'])).max():.1e}")

# ---- parity of 4 bits -----------------------------------------------------------------------
T = 4
bits = (np.arange(2 ** T)[:, None] >> np.arange(T)) & 1        # all 16 strings, (16, T)
X = bits.T[:, None, :].astype(np.float32)                       # (T, n_x, m) = (4, 1, 16)
Y = (bits.sum(axis=1) % 2).reshape(1, -1).astype(np.float32)    # (1, 16): 1 if odd
rnn = gpubp.ElmanRNN(n_x=1, n_h=8, n_y=1, T=T, activation="tanh", output="sigmoid",
                     loss="bce", seed=0)
print(f"\n{rnn}")
history = rnn.fit(X, Y, epochs=1500, batch_size=16, optimizer="adam", lr=0.05)
y_hat = to_host(rnn.forward(X))
accuracy = ((y_hat > 0.5) == (Y > 0.5)).mean()
print(f"cost {history['cost'][0]:.4f} -> {history['cost'][-1]:.6f} in {history.epochs} epochs")
for j in (0, 1, 7, 15):
    print(f"  bits {''.join(map(str, bits[j]))}: y = {int(Y[0, j])}, y_hat = {y_hat[0, j]:.3f}")
print(f"parity accuracy: {accuracy:.3f}")

print("\nfinite differences through time (gpubp.gradcheck, float64):")
print(gpubp.gradcheck(rnn, X, Y))
