"""gpubp: backpropagation written the way the textbooks write it, on NumPy and CuPy.

    Z[l] = W[l] A[l-1] + b[l]      A[l] = chi[l](Z[l])
    dZ[l-1] = (W[l]^T dZ[l]) * chi'[l-1](Z[l-1])      dW[l] = dZ[l] A[l-1]^T      db[l] = dZ[l] 1^T

Columns are examples; layers are numbered 1..L. See README.md for a tour.
"""

from .backend import describe
from .errors import (CheckpointError, DataError, DeviceError, GpubpError, NameNotFound, ShapeError,
                     TrainingDiverged)
from .explain import explain
from .gradcheck import gradcheck
from .graph import Graph
from .labels import one_hot
from .network import Network
from .rnn import ElmanRNN
from .saving import load, save
from .trace import trace
from .train import History, fit

__version__ = "0.1.0"

__all__ = ["explain", "one_hot", "Graph", "Network", "ElmanRNN", "trace", "fit", "History", "gradcheck", "describe", "GpubpError", "ShapeError",
           "DataError", "NameNotFound", "DeviceError", "CheckpointError", "TrainingDiverged", "load",
           "save"]
