"""Live widgets for the notebooks: controls + one matplotlib figure updated in place.

Every widget is a `Panel`: an ipywidgets VBox of controls, the figure (an ipympl canvas
under `%matplotlib widget`) and an Output area where errors are shown.  Setting a
control's `.value` from Python fires the same callback as moving it in the browser.
"""
import enot_lite  # noqa: F401  (the widgets call enot_lite.fit and enot_lite.sweep through it)
from enot_lite.widgets.enot import (LAM_LADDER, TAU_LADDER, BenchmarkWidget, Explorer, GridView, SphereExplorer, around,
                                    explorer, grid_view)
from enot_lite.widgets.panel import Panel
from enot_lite.widgets.theory import CTransformWidget, ExpectileWidget, PlanWidget, SinkhornWidget

__all__ = ["BenchmarkWidget", "CTransformWidget", "ExpectileWidget", "Explorer", "GridView", "LAM_LADDER", "Panel",
           "PlanWidget", "SinkhornWidget", "SphereExplorer", "TAU_LADDER", "around", "explorer", "grid_view"]
