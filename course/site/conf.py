"""Sphinx configuration of the course site (copied next to the staged sources by course.book).

Sphinx + myst-nb: pure Python, installed with pip; notebooks are rendered from the saved
executions (no execution here).  Nothing is loaded from the network: MathJax 2 is served from
the build (jupyter-server-mathjax's copy), widget JavaScript is off and each widget shows the
PNG of its first state that `enot_lite.widgets.Panel` adds to its display.
"""
project = "enot_lite"
author = "enot_lite authors"
html_title = "enot_lite: a course in neural optimal transport"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "_mathjax", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # notebooks number their sections ("## 1. ..."), no level skipped on purpose

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

nb_execution_mode = "off"          # the notebooks arrive executed (course.execute)
nb_ipywidgets_js = {}              # no widget JavaScript from a CDN ...
nb_mime_priority_overrides = [     # ... and a widget's PNG wins over its (live-only) view
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "image/png", 25),     # ipympl figures carry an <img> in text/html too; the PNG is cleaner
]
nb_output_stderr = "show"
nb_code_prompt_show = "Show the solution"  # only solution cells are folded (course.book)
nb_code_prompt_hide = "Hide the solution"

html_theme = "sphinx_book_theme"
html_static_path = ["_mathjax"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "home_page_in_toc": True,
}
html_show_sourcelink = False
html_last_updated_fmt = None

mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
myst_update_mathjax = False
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True},
    "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None, "preferredFont": None},  # the fonts it ships
    "messageStyle": "none",
}
