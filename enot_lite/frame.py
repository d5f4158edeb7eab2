"""The standard frame: one shift m and one scale s for source and target alike.

`fit` trains on x' = (x - m) / s and y' = (y - m) / s.  For a cost that is translation invariant
and homogeneous of degree p, c(m + s x', m + s y') = s^p c(x', y'), so the problem in the frame
is the same problem: the map, potentials and dual value come back exactly as

    T(x) = m + s T'((x - m) / s),    f(x) = s^p f'((x - m) / s),    W = s^p W'.

m is the mean of both samples together, s their root-mean-square distance to m per coordinate,
so the data that the networks see has unit scale whatever units the user measures in.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Frame(NamedTuple):
    """x' = (x - shift) / scale; potentials and costs scale by scale ** degree."""

    shift: np.ndarray  # (d,) float32
    scale: float
    degree: float

    def to_frame(self, z):
        return (z - self.shift) / self.scale

    def from_frame(self, z):
        return self.shift + self.scale * z

    @property
    def cost_factor(self) -> float:
        """s^p: a cost, potential or dual value in the frame times this is in the user's units."""
        return self.scale**self.degree


def identity(dim) -> Frame:
    """No shift, no scale: training in the user's units."""
    return Frame(np.zeros(dim, np.float32), 1.0, 1.0)


def standard(x, y, degree) -> Frame:
    """m = mean of x and y together, s = sqrt(mean ||z - m||^2 / d) over both (float64 sums)."""
    z = np.concatenate([np.asarray(x, np.float64), np.asarray(y, np.float64)])
    shift = z.mean(0)
    scale = float(np.sqrt(np.mean((z - shift) ** 2)))
    if not np.isfinite(scale) or scale == 0.0:
        raise ValueError("source and target are all one point: there is nothing to transport")
    return Frame(shift.astype(np.float32), scale, float(degree))


def scale_of(x, y) -> float:
    """The root-mean-square spread per coordinate of x and y together (the s of `standard`)."""
    return standard(x, y, 1.0).scale
