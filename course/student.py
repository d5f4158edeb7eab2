"""`make student`: the student edition of every notebook, build/student/NN_name.ipynb.

Each `solution` cell becomes a placeholder that raises NotImplementedError("exercise not done
yet") (starter code around nbgrader's `### BEGIN SOLUTION` / `### END SOLUTION` stays); check
cells lose their outputs; everything else is the notebook as committed (no outputs: students
run it).  No kernel is needed: `make test` already ran each placeholder, just before its
solution, in the notebook's one execution (course.execute), and checked that no other cell
uses a name only a solution defines (course.cells.solution_leaks).
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from course import BUILD, ROOT, cells, notebooks


def build(out: Path = BUILD / "student", paths=None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths or notebooks():
        nb = nbformat.read(path, as_version=4)
        leaks = cells.solution_leaks(nb)
        if leaks:
            raise ValueError(f"{Path(path).name}: cells use names only a solution defines: {leaks}")
        target = out / Path(path).name
        nbformat.write(cells.student_edition(nb), target)
        written.append(target)
    return written


if __name__ == "__main__":
    try:
        for target in build():
            print(f"student edition: {target.relative_to(ROOT)}")
    except ValueError as err:
        sys.exit(str(err))
