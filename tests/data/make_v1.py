"""Writes the format-version-1 fixtures (tests/data/v1_*.npz) with the checkpoint code of gpubp
before each class wrote its own record (main at 9f8b477): PYTHONPATH=<that tree> python make_v1.py tests/data"""
import sys
import numpy as np
import gpubp
from gpubp import activations, checkpoint

out = sys.argv[1]
rng = np.random.default_rng(1)
# a Network stopped mid-epoch with early stopping holding a best: order, best_params, watch
net = gpubp.Network([3, 4, 2], activation=[activations.LeakyReLU(0.3)], output="sigmoid",
                    loss="bce", device="cpu", seed=0)
X, Y = rng.normal(size=(3, 11)), rng.uniform(0, 1, (2, 11))
batches = iter(range(1000))
net.fit(X, Y, epochs=4, batch_size=4, optimizer="adam", lr=0.05, patience=3, min_delta=10,
        stop=lambda: next(batches) == 7)
assert net.training.mid_epoch and net.training.best_params is not None and net.training.waited == 1
checkpoint.save(net, f"{out}/v1_network.npz", metadata={"classes": ["a", "b"], "x": [0.5, 1e300]})
# a Graph with a shared weight, two outputs, float64, momentum
g = gpubp.Graph(dtype="float64", device="cpu", seed=2)
X1, X2 = g.input("X1", 2, symbol="x1", size="n_x"), g.input("X2", 2)
Wx, Wh, Wy = g.weight("Wx", (3, 2)), g.weight("Wh", (3, 3)), g.weight("Wy", (1, 3))
b = g.bias("b", 3)
H1 = g.layer("H1", Wx @ X1 + b, activation="tanh", z="Z1", dz="dZ1")
H2 = g.layer("H2", Wh @ H1 + Wx @ X2 + b, activation="relu")
Yh = g.layer("Y", Wy @ H2, bias=True, symbol="y_hat")
g.output(Yh, loss="half_sse")
g.fit({"X1": rng.normal(size=(2, 9)), "X2": rng.normal(size=(2, 9))}, rng.normal(size=(1, 9)),
      epochs=2, batch_size=4, optimizer="momentum", lr=0.1)
checkpoint.save(g, f"{out}/v1_graph.npz")
# an untrained ElmanRNN, and one trained by sgd
r = gpubp.ElmanRNN(2, 3, 1, 3, outputs="all", device="cpu", seed=4)
checkpoint.save(r, f"{out}/v1_rnn_untrained.npz")
r.fit(rng.normal(size=(3, 2, 6)), rng.uniform(0, 1, (3, 1, 6)), epochs=1, batch_size=3,
      optimizer="sgd", lr=0.1)
checkpoint.save(r, f"{out}/v1_rnn.npz")
