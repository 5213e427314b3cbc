"""Named parameters in one flat buffer per network, with a view per parameter.

A network's parameters (``"W[1]"``, ``"b[1]"``, ... or ``"Wx"``, ``"Wh"``, ...), their gradients
and each optimizer's state are each one contiguous 1-D array, laid out the same way
(:class:`Layout`). Each named parameter is a view into it, shaped as the notes shape it. So an
optimizer step is one kernel launch over the whole network, a data-parallel all-reduce is one
call, and a checkpoint is one array.
"""

import numpy as np

from . import backend
from .errors import DataError, NameNotFound, ShapeError


class Layout:
    """Names, shapes and offsets of the parameters in a flat buffer, in declaration order."""

    def __init__(self, shapes):
        self.shapes = {name: tuple(int(s) for s in shape) for name, shape in shapes}
        self.offsets = {}
        size = 0
        for name, shape in self.shapes.items():
            self.offsets[name] = size
            size += int(np.prod(shape))
        self.size = size

    @property
    def names(self):
        return list(self.shapes)

    def __eq__(self, other):
        return isinstance(other, Layout) and list(self.shapes.items()) == list(other.shapes.items())

    def __repr__(self):
        return "Layout(" + ", ".join(f"{n}: {s}" for n, s in self.shapes.items()) + ")"


class FlatArrays:
    """One flat device buffer and a named view per parameter: a read-only mapping of live arrays.

    ``arrays["W[1]"]`` is the live view; ``arrays["W[1]"] = value`` checks the shape and copies
    ``value`` into it (on this buffer's device, in its dtype), so that nothing holding the view
    (an optimizer, a plan) is left behind. ``arrays.flat`` is the whole buffer.
    """

    def __init__(self, layout, xp, dtype, flat=None):
        self.layout = layout
        self.flat = xp.zeros(layout.size, dtype) if flat is None else flat  # (P,)
        self._make_views()

    def _make_views(self):
        self._views = {}
        for name, shape in self.layout.shapes.items():
            o = self.layout.offsets[name]
            self._views[name] = self.flat[o:o + int(np.prod(shape))].reshape(shape)

    @property
    def xp(self):
        return backend.xp_of(self.flat)

    @property
    def dtype(self):
        return self.flat.dtype

    def like(self):
        """A new zeroed buffer with the same layout, device and dtype (gradients, optimizer state)."""
        return FlatArrays(self.layout, self.xp, self.dtype)

    def __getitem__(self, name):
        try:
            return self._views[name]
        except KeyError:
            raise NameNotFound(f"no parameter named {name!r}; the parameters are: "
                               f"{', '.join(self.layout.names)}") from None

    def __setitem__(self, name, value):
        target = self[name]
        try:
            value = backend.to_device(value, self.xp)
        except (ValueError, TypeError) as e:
            raise DataError(f"{name} must be an array of numbers; {' '.join(str(e).split())}") from None
        if value.dtype.kind not in "biuf":
            raise DataError(f"{name} must be an array of real numbers; got {value.dtype}")
        if value.shape != target.shape:
            raise ShapeError(f"{name} must be {target.shape}; got {value.shape}")
        value = value.astype(self.dtype, copy=False)
        if not bool(self.xp.isfinite(value).all()):
            raise DataError(f"{name} must be finite; the values given hold NaN or inf")
        target[...] = value

    def __contains__(self, name):
        return name in self._views

    def __iter__(self):
        return iter(self._views)

    def __len__(self):
        return len(self._views)

    def keys(self):
        return self._views.keys()

    def items(self):
        return self._views.items()

    def values(self):
        return self._views.values()

    def __getstate__(self):
        # the views are rebuilt from the buffer on unpickling, so they share its memory again
        return {"layout": self.layout, "flat": self.flat}

    def __setstate__(self, state):
        self.layout, self.flat = state["layout"], state["flat"]
        self._make_views()

    def __repr__(self):
        return "{" + ", ".join(f"{n}: {v.shape}" for n, v in self._views.items()) + "}"
