"""The package's home: one dependency set for pip, conda and Binder; stripped notebooks; a true README."""
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import enot_lite

ROOT = Path(__file__).resolve().parents[1]


def _normalise(lines):
    """{name: specifier} for requirement strings (comments, blanks and '-e .' dropped)."""
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        out[req.name.lower().replace("_", "-")] = str(req.specifier)
    return out


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_yml_pip_section():
    """The pip: list of environment.yml (a tiny parser: conda's format is fixed here)."""
    lines, inside = [], False
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        if re.match(r"^\s*- pip:\s*$", raw):
            inside = True
            continue
        if inside:
            m = re.match(r"^\s{6,}- (.+)$", raw)
            if not m:
                break
            lines.append(m.group(1))
    return lines


def test_pip_conda_and_binder_install_the_same_dependencies():
    pip = _normalise(_pyproject()["project"]["dependencies"])
    conda = _normalise(_environment_yml_pip_section())
    binder = _normalise((ROOT / "binder/requirements.txt").read_text().splitlines())
    assert pip == conda, "environment.yml drifted from pyproject.toml"
    assert pip == binder, "binder/requirements.txt drifted from pyproject.toml"
    assert {"jax", "flax", "optax", "ipywidgets", "matplotlib", "ipympl", "jupyterlab", "tqdm"} <= set(pip)
    assert "-e ." in (ROOT / "environment.yml").read_text()


def test_conda_and_binder_pin_the_same_python():
    runtime = (ROOT / "binder/runtime.txt").read_text().strip()
    assert runtime == "python-3.11"
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_version_matches_pyproject():
    assert enot_lite.__version__ == _pyproject()["project"]["version"]


def test_quick_mode_flag_reads_the_environment():
    code = "import enot_lite; print(enot_lite.QUICK)"
    for value, expected in (("1", "True"), ("0", "False"), ("", "False")):
        env = dict(os.environ, ENOT_QUICK=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    dirty = []
    for path in notebooks:
        if ".ipynb_checkpoints" in path.parts:
            continue
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                dirty.append(path.name)
                break
    assert not dirty, f"strip outputs (make strip): {dirty}"


def test_readme_names_both_commands_and_every_notebook():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    assert "mybinder.org" in readme
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert path.name in readme, f"README does not list {path.name}"


def test_ci_installs_chromium_then_runs_make_test():
    ci = (ROOT / ".ci/run").read_text()
    assert "apt-get install" in ci and "chromium" in ci
    assert ci.rstrip().endswith("make test")
    assert "ENOT_QUICK=1" in (ROOT / "Makefile").read_text()


@pytest.mark.slow
def test_readme_quick_start_runs():
    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    assert "enot_lite.fit(" in block and ".transport(" in block
    env = dict(os.environ, MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-c", block], cwd=ROOT, env=env, check=True, timeout=300)


@pytest.mark.slow
def test_binder_postbuild_installs_an_importable_package(tmp_path):
    """Replays what repo2docker does with binder/: requirements, then postBuild from the repo root.

    Downloading the full requirements (~600 MB) in a test is too slow, so the fresh venv
    sees the project venv's site-packages through a .pth file (the requirements are
    checked against pyproject by the test above and installed in that venv); postBuild
    itself runs for real and installs the package (non-editable) into the fresh venv."""
    venv = tmp_path / "binder-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "project-deps.pth").write_text("\n".join(deps) + "\n")
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    subprocess.run([str(ROOT / "binder/postBuild")], cwd=ROOT, env=env, check=True, timeout=600,
                   stdout=subprocess.DEVNULL)
    code = (
        "import enot_lite, importlib.resources as r, sys; "
        "print(enot_lite.__file__); "
        "d = r.files('enot_lite') / 'data'; "
        "assert (d / 'mix3tomix10_2.npz').is_file() and (d / 'LICENSE-Wasserstein2Benchmark.txt').is_file(); "
        "print(enot_lite.benchmark.mix3tomix10(2).dim)"
    )
    out = subprocess.run([str(venv / "bin/python"), "-c", code], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=True)
    location, dim = out.stdout.split()
    assert location.startswith(str(site)), location  # installed copy, not the checkout
    assert dim == "2"
