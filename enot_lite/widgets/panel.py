"""The widgets' common frame: a `Panel` (controls, one figure updated in place, an error area) and
the controls it is built from."""
from __future__ import annotations

import base64
import io

import ipywidgets as W
import matplotlib.pyplot as plt

from enot_lite import checks

class Panel(W.VBox):
    """Controls, a figure and an error area; `update()` runs on every change, errors go to `.output`."""

    def __init__(self, controls, figure, triggers=None):
        """`triggers`: the controls whose change redraws (default: all of them)."""
        self.figure, self.controls, self.output = figure, list(controls), W.Output()
        self.output.add_class("enot-output")
        canvas = figure.canvas if isinstance(figure.canvas, W.DOMWidget) else W.Output()
        if hasattr(figure.canvas, "header_visible"):
            figure.canvas.header_visible = False  # no "Figure N" title bar above the plot
        for control in self.controls if triggers is None else triggers:
            if isinstance(control, W.Button):
                control.on_click(lambda _: self.refresh())
            else:
                control.observe(lambda _: self.refresh(), names="value")
        super().__init__([W.HBox(self.controls), canvas, self.output])
        self.update()  # the first draw raises: a bad construction argument is the caller's error
        self.figure.canvas.draw_idle()

    def refresh(self):
        self.output.outputs = ()  # clear_output() only asks a front end to clear; this clears the state too
        try:
            self.update()
            self.figure.canvas.draw_idle()
        except Exception as err:  # shown to the student, not lost in the log
            self.output.append_stderr(f"{type(err).__name__}: {err}\n")

    def update(self):
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a PNG of the figure as it is when displayed (its first state):
        what a page without a kernel (the course site, a notebook viewer) shows instead."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            buf = io.BytesIO()
            self.figure.savefig(buf, format="png", dpi="figure")
            bundle["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")
        return bundle


def _figure(*args, **kwargs):
    with plt.ioff():  # shown as part of the panel, not a second time by the backend
        return plt.subplots(*args, **kwargs)


def _dropdown(description, value, options):
    checks.one_of(description, value, tuple(options))
    return W.Dropdown(options=list(options), value=value, description=description)


def _slider(kind, description, value, low, high, step, css=None):
    """A slider that only moves on release; a starting value outside [low, high] is refused
    (ipywidgets would clamp it silently)."""
    checks.number(description, value, low, high, low_open=False, kind=int if kind is W.IntSlider else float)
    slider = kind(value=value, min=low, max=high, step=step, description=description, continuous_update=False,
                  readout=True, style={"description_width": "initial"})
    if css:
        slider.add_class(css)
    return slider
