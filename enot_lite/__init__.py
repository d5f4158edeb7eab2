"""enot_lite: expectile-regularised neural optimal transport (ENOT) in a small JAX module."""
import os

from enot_lite import benchmark, costs, datasets, discrete, plotting, potentials
from enot_lite.solver import DivergenceError, ENOTResult, expectile_loss, fit, load

__version__ = "0.1.0"

QUICK = os.environ.get("ENOT_QUICK", "") not in ("", "0")
"""Quick mode (env ENOT_QUICK=1): notebooks and tests shrink their step counts."""

__all__ = ["DivergenceError", "ENOTResult", "QUICK", "benchmark", "costs", "datasets", "discrete", "expectile_loss", "fit", "load", "plotting", "potentials"]


def __getattr__(name):
    """`enot_lite.widgets` is imported on first access, so `import enot_lite` stays light (no ipywidgets)."""
    if name == "widgets":
        import importlib

        return importlib.import_module("enot_lite.widgets")
    raise AttributeError(f"module 'enot_lite' has no attribute {name!r}")
