"""enot_lite: expectile-regularised neural optimal transport (ENOT) in a small JAX module.

The paper's loss is `enot_lite.loss`; the training machinery `enot_lite.train`; `fit` and the
trained model (`ENOTResult`, `load`) sit on top of them; `sweep` trains a whole grid of tau,
lambda and seeds in one compiled program.
"""
import os

from enot_lite import benchmark, costs, datasets, discrete, loss, plotting, potentials, train
from enot_lite.loss import expectile_loss
from enot_lite.result import DivergenceError, ENOTResult, load
from enot_lite.solver import fit
from enot_lite.grid import SweepResult, sweep
from enot_lite.train import cache_compilations

__version__ = "0.1.0"

QUICK = os.environ.get("ENOT_QUICK", "") not in ("", "0")
"""Quick mode (env ENOT_QUICK=1): notebooks and tests shrink their step counts."""

__all__ = ["DivergenceError", "ENOTResult", "QUICK", "SweepResult", "benchmark", "cache_compilations", "costs",
           "datasets", "discrete", "expectile_loss", "fit", "load", "loss", "plotting", "potentials", "sweep", "train"]


def __getattr__(name):
    """`enot_lite.widgets` is imported on first access, so `import enot_lite` stays light (no ipywidgets)."""
    if name == "widgets":
        import importlib

        return importlib.import_module("enot_lite.widgets")
    raise AttributeError(f"module 'enot_lite' has no attribute {name!r}")
