"""pytest: every course notebook is one test, executed once per run (course.execute).

Collected from `notebooks/NN_*.ipynb` (the testpaths in pyproject.toml).  Each execution is
saved to build/executed/ and kept for the session: tests that need the executed course (the
site, the slides) take the `executed_notebooks` fixture, which runs only the notebooks not run
yet, and are ordered after the notebooks, so `make test` executes each notebook exactly once
(and `pytest -k site` alone reuses saved executions of the same sources).
(nbval executes cells but cannot save the executed notebook nor run the student edition's
version of a cell before the solution, hence this small collector on nbclient.)
"""
from __future__ import annotations

from pathlib import Path

import pytest

from course import execute, notebooks

_RESULTS: dict[Path, object] = {}  # notebook -> executed notebook, or the exception it raised


def _run(path: Path, reuse: bool = False):
    """Execute the notebook once per session; with `reuse`, a saved execution of the same
    sources (course.execute.fingerprint) counts as this session's."""
    path = Path(path).resolve()
    if path not in _RESULTS and reuse and (saved := execute.load_fresh(path)) is not None:
        _RESULTS[path] = saved
    if path not in _RESULTS:
        try:
            nb = execute.execute(path)
            execute.save(nb, path)
            _RESULTS[path] = nb
        except Exception as err:  # noqa: BLE001 - reported by the notebook's own test
            _RESULTS[path] = err
    result = _RESULTS[path]
    if isinstance(result, Exception):
        raise result
    return result


class NotebookFile(pytest.File):
    def collect(self):
        yield NotebookItem.from_parent(self, name="runs top to bottom")


class NotebookItem(pytest.Item):
    def runtest(self):
        _run(self.path)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, execute.NotebookFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: every cell, fresh kernel"


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".ipynb" and file_path.resolve() in {p.resolve() for p in notebooks()}:
        return NotebookFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(items):
    """Tests that use the executed course run after the notebooks (stable order otherwise)."""
    items.sort(key=lambda item: "executed_notebooks" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def executed_notebooks() -> dict[Path, object]:
    """{notebook path: executed notebook} for the whole course: this session's executions (the
    notebooks' own tests run first), else saved ones of the same sources (`pytest -k site`
    after `make test`), else executed now."""
    out, failed = {}, []
    for path in notebooks():
        try:
            out[path] = _run(path, reuse=True)
        except Exception as err:  # noqa: BLE001
            failed.append(f"{path.name}: {str(err).splitlines()[0]}")
    if failed:
        pytest.fail("notebooks failed (see their own tests): " + "; ".join(failed))
    return out
