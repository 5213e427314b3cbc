"""``python -m gpubp``: what gpubp runs on here, then the README's first example (XOR)."""

import numpy as np

import gpubp
from gpubp import backend


def main():
    print(gpubp.describe())
    # XOR: four examples, one per column (X is (n[0], m) = (2, 4)), labels in a (1, 4) row
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
    Y = np.array([[0, 1, 1, 0]], dtype=float)
    net = gpubp.Network([2, 8, 1], activation="tanh", output="sigmoid", loss="bce", seed=0)
    print(net)
    history = net.fit(X, Y, epochs=300, batch_size=4, optimizer="adam", lr=0.05)
    print(f"cost {history['cost'][0]:.3f} -> {history['cost'][-1]:.4f}")
    print("A[L] =", backend.to_host(net.forward(X)).round(3))
    print(gpubp.gradcheck(net, X, Y))


if __name__ == "__main__":
    main()
