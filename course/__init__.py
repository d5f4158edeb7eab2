"""Course tooling: run the notebooks once, then build the site, the slides and the student edition.

Not part of the package (the wheel ships `enot_lite` only).  Every notebook is found by
`notebooks()`, a glob of `notebooks/NN_*.ipynb`, so added or renumbered notebooks need no
change here.  Conventions, in `course.cells`: a code cell tagged `solution` is an exercise's
answer, a cell tagged `check` tests it.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
EXECUTED = BUILD / "executed"  # one saved execution per notebook (course.execute)


def notebooks(root: Path = ROOT) -> list[Path]:
    """The course, in order: `notebooks/` files whose name starts with a number."""
    return sorted(p for p in (root / "notebooks").glob("[0-9]*.ipynb"))
