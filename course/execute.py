"""Run a notebook once, top to bottom, in a fresh kernel of this interpreter, and save the result.

The kernel starts in the notebook's folder and inherits the environment (`make test` sets
ENOT_QUICK=1).  Every cell runs; an error in any cell fails the notebook (its `assert` cells
are the checks).  Before each `solution` cell, the student edition's version of that cell runs
in the same kernel and must raise NotImplementedError("exercise not done yet"); then the real
solution runs.  With `course.cells.solution_leaks` (no other cell uses what a solution
defined) this one execution shows that the student edition runs top to bottom with only
those errors, without running every notebook a second time.

The executed notebook goes to build/executed/NAME.ipynb with a fingerprint of what produced it
(the notebook, the package's sources, quick mode); the site, the slides and `make test` reuse it
while the fingerprint matches.  `python -m course.execute [NOTEBOOK ...]` runs those whose saved
execution is missing or stale.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sys
import time
from pathlib import Path

import nbformat

from course import EXECUTED, ROOT, cells, notebooks

CELL_TIMEOUT = 900  # seconds; quick mode keeps every notebook well under a minute or two


class NotebookFailed(Exception):
    """A cell raised (or a student placeholder did not raise what it should)."""

    def __init__(self, path: Path, index: int, source: str, detail: str):
        self.path, self.index = path, index
        super().__init__(f"{path.name}, cell {index}:\n{source}\n\n{_strip_ansi(detail)}")


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def quick() -> bool:
    return os.environ.get("ENOT_QUICK", "") not in ("", "0")


def fingerprint(path: Path) -> str:
    """Hash of the notebook, the package's Python sources and the quick-mode flag."""
    h = hashlib.sha256(Path(path).read_bytes())
    for source in sorted((ROOT / "enot_lite").rglob("*.py")):
        h.update(source.relative_to(ROOT).as_posix().encode() + source.read_bytes())
    h.update(b"quick" if quick() else b"full")
    return h.hexdigest()[:20]


def _kernel_manager():
    """A kernel of the interpreter running this code (whatever kernelspecs are installed)."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())


def _error(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            return f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback)
    return None


def execute(path: Path) -> nbformat.NotebookNode:
    """The notebook at `path`, executed (see the module docstring); raises NotebookFailed."""
    return asyncio.run(_execute(Path(path).resolve()))


async def _execute(path: Path) -> nbformat.NotebookNode:
    # One event loop for the whole notebook, as nbclient's own execute() does: driving cells one
    # by one through the sync execute_cell wrapper stops the loop between cells, and then a
    # reply can sit unnoticed until the cell timeout (seen here with widgets; nbclient #312).
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=_kernel_manager(), timeout=CELL_TIMEOUT, record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start, probed = time.perf_counter(), 0
    async with client.async_setup_kernel(cwd=str(path.parent), cleanup_kc=True):  # kernel shut down after
        for index, cell in enumerate(nb.cells):
            if cells.is_solution(cell):
                await _probe(client, path, index, cell)
                probed += 1
            try:
                await client.async_execute_cell(cell, index)
            except CellExecutionError as err:
                raise NotebookFailed(path, index, cell.source, str(err)) from None
    nb.metadata["course"] = {"fingerprint": fingerprint(path), "quick": quick(), "probed_solutions": probed,
                             "seconds": round(time.perf_counter() - start, 1)}
    return nb


async def _probe(client, path: Path, index: int, cell) -> None:
    """Run the student edition's version of a solution cell; it must stop at the placeholder."""
    probe = nbformat.v4.new_code_cell(cells.student_source(cell.source), metadata={"tags": ["raises-exception"]})
    await client.async_execute_cell(probe, index, store_history=False)
    error = _error(probe)
    if error is None or not error.startswith(f"NotImplementedError: {cells.NOT_DONE}"):
        raise NotebookFailed(path, index, probe.source,
                             f"the student edition of this solution cell should raise NotImplementedError"
                             f"({cells.NOT_DONE!r}); it gave: {error or 'no error'}")


def saved_path(path: Path) -> Path:
    return EXECUTED / Path(path).name


def save(nb, path: Path) -> Path:
    out = saved_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


def load_fresh(path: Path):
    """The saved execution of `path` if its fingerprint still matches, else None."""
    out = saved_path(path)
    if not out.exists():
        return None
    nb = nbformat.read(out, as_version=4)
    return nb if nb.metadata.get("course", {}).get("fingerprint") == fingerprint(path) else None


def ensure_executed(paths=None, log=print) -> dict[Path, nbformat.NotebookNode]:
    """{notebook: executed notebook}, running only those without a fresh saved execution."""
    result = {}
    for path in paths or notebooks():
        nb = load_fresh(path)
        if nb is None:
            log(f"executing {path.name} ({'quick' if quick() else 'full'} mode) ...")
            nb = execute(path)
            save(nb, path)
            log(f"  {nb.metadata['course']['seconds']} s")
        result[Path(path)] = nb
    return result


if __name__ == "__main__":
    targets = [Path(a).resolve() for a in sys.argv[1:]] or None
    try:
        ensure_executed(targets)
    except NotebookFailed as err:
        sys.exit(f"notebook failed: {err}")
