"""`make slides`: each notebook as reveal.js slides, build/slides/NN_name.slides.html.

`nbconvert --to slides` on the saved executions (course.execute runs the ones missing).  A
cell's own `slideshow` metadata (JupyterLab: Property Inspector -> Slide Type) wins; where it
has none, the type follows the notebook's structure: a `#` or `##` heading starts a slide, other
text a sub-slide (down arrow), code and its output appear as a fragment (next key press), and
solutions and checks are skipped.  reveal.js (from the sphinx-revealjs wheel) and MathJax 2
(jupyter-server-mathjax) are copied next to the slides, so the deck works offline in a lecture
hall; no script or style sheet comes from another host.
"""
from __future__ import annotations

import copy
import shutil
import sys
import time
from pathlib import Path

from course import BUILD, ROOT, cells, execute

TEMPLATE = Path(__file__).parent / "slides" / "course_slides.html.j2"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PRIORITY = [  # as nbconvert's HTML default, but a static PNG before the HTML a figure also carries
    "application/javascript", "image/svg+xml", "image/png", "text/html", "text/markdown", "text/latex",
    "image/jpeg", "text/plain"]


def slide_type(cell) -> str:
    """The cell's explicit slide type, else one derived from the structure (module docstring)."""
    explicit = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
    if explicit:
        return explicit
    if cells.is_solution(cell) or cells.is_check(cell):
        return "skip"
    if cell["cell_type"] == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        return "slide" if first.startswith(("# ", "## ")) else "subslide"
    return "fragment" if cell["cell_type"] == "code" else "-"


def slide_notebook(nb):
    """The executed notebook with a slide type on every cell and widgets as their PNG."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell)}
        for out in cell.get("outputs", []):
            out.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


def copy_assets(out: Path) -> None:
    """reveal.js (dist/ and the speaker-notes plugin) and MathJax 2 next to the slides."""
    import jupyter_server_mathjax
    import sphinx_revealjs

    reveal = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"
    no_maps = shutil.ignore_patterns("*.map", "*.esm.js")
    for part in ("dist", "plugin/notes"):
        shutil.copytree(reveal / part, out / "reveal.js" / part, ignore=no_maps, dirs_exist_ok=True)
    shutil.copy(reveal / "LICENSE", out / "reveal.js" / "LICENSE")
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", out / "mathjax", dirs_exist_ok=True)


def build(executed: dict, out: Path = BUILD / "slides") -> list[Path]:
    """Write one .slides.html per notebook into `out`, with the assets they load."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    config = Config({"NbConvertBase": {"display_data_priority": PRIORITY}})
    exporter = SlidesExporter(config=config, template_file=str(TEMPLATE), reveal_url_prefix="reveal.js",
                              reveal_theme="white", reveal_transition="none",
                              mathjax_url="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe",
                              exclude_input_prompt=True, exclude_output_prompt=True)
    written = []
    for path, nb in sorted(executed.items()):
        html, _ = exporter.from_notebook_node(slide_notebook(nb), resources={"metadata": {"name": Path(path).stem}})
        target = out / f"{Path(path).stem}.slides.html"
        target.write_text(html)
        written.append(target)
    return written


def main():
    start = time.perf_counter()
    written = build(execute.ensure_executed())
    for path in written:
        print(f"slides: {path.relative_to(ROOT)}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    try:
        main()
    except execute.NotebookFailed as err:
        sys.exit(str(err))
