"""The package's home: ranges in pyproject, one pinned set for Binder, conda and CI; stripped notebooks; a true README."""
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import course.pins
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


def test_environment_yml_parser_agrees_with_yaml():
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed: the small parser is used alone")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [_environment_yml_pip_section()]
    assert set(d.split("=")[0] for d in env["dependencies"] if isinstance(d, str)) == {"python", "pip"}


def test_environment_yml_carries_the_binder_pins():
    conda = [line for line in _environment_yml_pip_section() if line != "-e ."]
    binder = [line for line in (ROOT / "binder/requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert conda == binder, "environment.yml drifted from binder/requirements.txt (make pins writes both)"
    assert "-e ." in _environment_yml_pip_section()


def test_binder_pins_exact_versions_within_pyproject_ranges():
    """pyproject.toml keeps ranges; binder/requirements.txt pins each dependency to one version in
    its range (JupyterLab keeps pyproject's range: Binder's base image provides it)."""
    pins = course.pins.read_requirements()
    wrong = []
    for req in course.pins.direct():
        name = course.pins.canonical(req.name)
        pin = pins.get(name)
        if name in course.pins.UNPINNED:
            if pin is None or pin.specifier != req.specifier:
                wrong.append(f"{name}: keeps pyproject's range {req.specifier}, has {pin}")
            continue
        exact = [s.version for s in pin.specifier if s.operator == "=="] if pin else []
        if len(exact) != 1 or len(pin.specifier) != 1:
            wrong.append(f"{name}: not pinned with == ({pin})")
        elif not req.specifier.contains(exact[0], prereleases=True):
            wrong.append(f"{name}=={exact[0]} is outside pyproject's {req.specifier}")
    assert not wrong, wrong
    assert {"jax", "jaxlib", "flax", "optax", "numpy"} <= set(pins)


def test_the_installed_set_is_the_pinned_set():
    """What this environment runs is what binder/requirements.txt pins, and the pins are complete:
    every package the runtime dependencies pull in is pinned (a lock, not just the direct
    dependencies).  make and CI install with `-c binder/requirements.txt`; `make pins` refreshes it."""
    pins = course.pins.read_requirements()
    installed = course.pins.closure(r.name for r in course.pins.direct() if course.pins.canonical(r.name) not in course.pins.UNPINNED)
    exact = {name: str(req.specifier)[2:] for name, req in pins.items() if name not in course.pins.UNPINNED}
    differ = {name: (exact.get(name), installed.get(name)) for name in set(exact) | set(installed)
              if exact.get(name) != installed.get(name)}
    assert not differ, f"{{name: (pinned, installed)}}: {differ}"


def test_every_requirement_is_installed_at_an_allowed_version():
    """A `pip check` for our own lists: pyproject's dependencies and the test and course extras
    are installed in the environment running the tests, at versions their ranges allow."""
    project = _pyproject()["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["test"] + project["optional-dependencies"]["course"]
    wrong = []
    for name, spec in _normalise(lines).items():
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name} not installed")
            continue
        if not Requirement(f"{name}{spec}").specifier.contains(version, prereleases=True):
            wrong.append(f"{name} {version} does not satisfy {spec}")
    assert not wrong, wrong


def test_the_lower_bounds_were_run():
    """docs/oldest-versions.md records a run of the tests with every lower bound of pyproject.toml;
    raising or lowering a bound means running it again (the commands are in that file)."""
    record = (ROOT / "docs/oldest-versions.md").read_text()
    for req in course.pins.direct():
        lower = [s.version for s in req.specifier if s.operator == ">="]
        assert len(lower) == 1, req
        assert f"{req.name}=={lower[0]}" in record, f"{req.name}=={lower[0]} not in docs/oldest-versions.md"


def test_postbuild_is_executable_and_installs_without_deps():
    post = ROOT / "binder/postBuild"
    assert os.access(post, os.X_OK)
    assert "pip install --no-deps ." in post.read_text()


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
        nb = json.loads(path.read_text())
        if "widgets" in nb.get("metadata", {}) or any(
                cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
                for cell in nb["cells"]):
            dirty.append(str(path.relative_to(ROOT)))
    assert not dirty, f"strip outputs (make strip): {dirty}"


def test_readme_names_both_commands_and_every_notebook():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("\n## ")]
    assert "make lab" in head and "make test" in head, "the two commands belong at the top"
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert path.name in readme, f"README does not list {path.name}"


def _readme_commands():
    """The command lines of the README's bash blocks (comments dropped)."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_the_readme_commands_exist():
    """Every `make` target the README names is in the Makefile, every `python -m enot_lite.bench`
    line parses with the CLI's own parser, every script it runs exists."""
    from enot_lite import bench

    commands = _readme_commands()
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    assert commands
    for line in commands:
        words = line.split()
        if words[0] == "make":
            assert words[1] in targets, line
        elif words[:3] == ["python", "-m", "enot_lite.bench"]:
            bench.parse(bench.build_parser(), words[3:])
        elif words[0] == "python" and words[1].endswith(".py"):
            assert (ROOT / words[1]).is_file(), line


def test_the_installed_package_never_imports_ott():
    """OTT-JAX is an optional extra for the side-by-side scripts in benchmarks/, never a
    dependency of the package itself."""
    import ast

    offenders = []
    for path in sorted((ROOT / "enot_lite").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n == "ott" or n.startswith("ott.")]
    assert not offenders, offenders


def test_ci_installs_chromium_then_runs_make_test():
    ci = (ROOT / ".ci/run").read_text()
    assert "apt-get install" in ci and "chromium" in ci
    assert ci.rstrip().endswith('make test PINS="-c binder/requirements.txt"'), "CI tests the pinned set"
    makefile = (ROOT / "Makefile").read_text()
    assert "ENOT_QUICK=1" in makefile
    assert '-c binder/requirements.txt' in makefile and "$(PINS) -e \".[test,course]\"" in makefile


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(enot_lite, "fit"), reason="solver not yet available (enot_lite.fit)")
def test_readme_quick_start_runs():
    """The README's Python block runs as written (defaults, no shortened steps: it is the
    first thing a reader copies), and its comments are true: the map is close to the closed
    form and the dual value estimates W2^2 / 2."""
    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    assert len(block.strip().splitlines()) <= 5
    assert "enot_lite.fit(" in block and ".transport(" in block and "enot_lite.plotting." in block
    check = (
        "\nimport jax.numpy as jnp\n"
        "x_ref = pair.sample_source(jax.random.key(7), 100_000)\n"
        "half_w2 = float(0.5 * jnp.mean(jnp.sum((x_ref - pair.optimal_map(x_ref)) ** 2, -1)))\n"
        "uvp = enot_lite.benchmark.l2_uvp(result.transport, pair)\n"
        "assert uvp < 2.0, uvp\n"
        "assert abs(float(result.dual_value) - half_w2) < 0.05 * half_w2, (result.dual_value, half_w2)\n"
    )
    env = dict(os.environ, MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "-c", block + check], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def test_wheel_ships_the_package_data(tmp_path):
    """A wheel built from the source tree (copied, so stale build/ folders cannot leak in)
    contains every module, every file in enot_lite/data/ (the W2 potentials and their MIT
    licence) and both licence files."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "bench_out", "*.egg-info", "__pycache__", ".pytest_cache",
        ".ipynb_checkpoints"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("enot_lite-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {f"enot_lite/{p.name}" for p in (ROOT / "enot_lite").glob("*.py")}
    assert modules <= names, modules - names
    data_dir = ROOT / "enot_lite/data"
    if data_dir.is_dir():
        data = {f"enot_lite/data/{p.name}" for p in data_dir.iterdir() if p.is_file()}
        assert "enot_lite/data/LICENSE-Wasserstein2Benchmark.txt" in data
        assert data <= names, data - names
    licences = {n.rsplit("/", 1)[-1] for n in names if ".dist-info/licenses/" in n}
    assert "LICENSE" in licences
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata


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
