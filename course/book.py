"""`make book`: the whole course as a static HTML site, build/book/index.html.

Sphinx with myst-nb (pure Python, pip only, and Jupyter Book's own notebook renderer): the
README is the front page, each notebook a page rendered from its saved execution
(course.execute runs the ones missing), docs/*.md are notes.  Solutions are collapsed behind a
"show" toggle; widgets show the PNG of their first state; math is MathJax 2 served from the
site itself; nothing is loaded from another host when the site is built or read.
"""
from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from course import BUILD, ROOT, cells, execute

CONF = Path(__file__).parent / "site" / "conf.py"


def site_notebook(nb):
    """The executed notebook as the site shows it: solutions collapsed, no saved widget state."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cells.is_solution(cell):
            cell.metadata.setdefault("tags", []).append("hide-cell")
    return nb


def site_index(readme: str, pages: list[str], notes: list[str]) -> str:
    """The README as the front page: remote badges become plain links, plus the navigation."""
    text = re.sub(r"\[!\[([^\]]*)\]\(https?://[^)]*\)\]\((https?://[^)]*)\)", r"[\1](\2)", readme)
    text = re.sub(r"!\[([^\]]*)\]\(https?://[^)]*\)", r"\1", text)
    toc = "\n\n```{toctree}\n:hidden:\n:caption: Course\n\n" + "\n".join(pages) + "\n```\n"
    if notes:
        toc += "\n```{toctree}\n:hidden:\n:caption: Notes\n\n" + "\n".join(notes) + "\n```\n"
    return text + toc


def stage(executed: dict, src: Path) -> Path:
    """Lay out the Sphinx sources in `src`: conf.py, index.md, notebooks/, docs/, MathJax."""
    import jupyter_server_mathjax

    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    shutil.copy(CONF, src / "conf.py")
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", src / "_mathjax" / "mathjax")
    pages = []
    for path, nb in sorted(executed.items()):
        nbformat.write(site_notebook(nb), src / "notebooks" / Path(path).name)
        pages.append(f"notebooks/{Path(path).stem}")
    notes = []
    if (ROOT / "docs").is_dir():
        shutil.copytree(ROOT / "docs", src / "docs")
        notes = [f"docs/{p.stem}" for p in sorted((ROOT / "docs").glob("*.md"))]
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#\s]+)", readme):  # other files the README links to
        if "://" not in target and (ROOT / target).is_file() and not (src / target).exists():
            (src / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / target, src / target)
    (src / "index.md").write_text(site_index(readme, pages, notes))
    return src


def build(executed: dict, out: Path = BUILD / "book", src: Path | None = None) -> Path:
    """Stage and build the site into `out`; fails on any Sphinx warning (a broken link included)."""
    src = stage(executed, src or out.parent / f"{out.name}-src")
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-d", str(src / "_doctrees"),
           str(src), str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"sphinx-build failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")
    return out / "index.html"


def main():
    start = time.perf_counter()
    executed = execute.ensure_executed()
    index = build(executed)
    print(f"site: {index.relative_to(ROOT)} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    try:
        main()
    except (execute.NotebookFailed, RuntimeError) as err:
        sys.exit(str(err))
