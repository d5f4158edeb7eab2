# Two commands from a fresh clone:  `make lab` (set up and open the notebooks), `make test` (run every test).
# Needs only Python 3.10-3.12 with pip; everything else goes into .venv.
# For lecturers: `make book` (the course as a static site), `make student` (editions without
# solutions), `make slides` (reveal.js decks); all in build/.
PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
PIP      := $(PY) -m pip install --quiet --disable-pip-version-check
LAB_ARGS ?=
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k packaging -x"`.
PYTEST_ARGS ?=

# With Python 3.11 (Binder's) installs take the exact versions of binder/requirements.txt, the set
# CI tests; other Pythons get the newest versions that pyproject.toml's ranges allow.
PINS := $(shell $(PYTHON) -c 'import sys; print("-c binder/requirements.txt" if sys.version_info[:2] == (3, 11) else "")')

.PHONY: lab test bench strip clean book student slides pins

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	touch $@

# Stamps: reinstall only when pyproject.toml or the pins change (the package itself is editable).
$(VENV)/.installed-lab: pyproject.toml binder/requirements.txt $(VENV)/.created
	$(PIP) $(PINS) -e .
	touch $@

$(VENV)/.installed-course: pyproject.toml binder/requirements.txt $(VENV)/.created
	$(PIP) $(PINS) -e ".[course]"
	touch $@ $(VENV)/.installed-lab

$(VENV)/.installed-test: pyproject.toml binder/requirements.txt $(VENV)/.created
	$(PIP) $(PINS) -e ".[test,course]"
	touch $@ $(VENV)/.installed-lab $(VENV)/.installed-course

lab: $(VENV)/.installed-lab
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

# One pytest run collects tests/ and notebooks/ (pyproject's testpaths): unit tests, every
# notebook in a fresh kernel (course/pytest_plugin.py: cwd = notebooks/, quick mode, executed
# once and saved to build/executed/), then the site, slides and browser tests built from those runs.
# Compiled programs are cached in build/xla-cache (enot_lite.cache_compilations), one cache per clone.
test: $(VENV)/.installed-test
	ENOT_QUICK=1 ENOT_CACHE_DIR=$(CURDIR)/build/xla-cache $(PY) -m pytest -q $(PYTEST_ARGS)

# book and slides first run the notebooks that have no saved execution of the current sources
# (full mode unless ENOT_QUICK=1; after `make test`, `ENOT_QUICK=1 make book` reuses its runs);
# student needs no run (the edition has no outputs).
book: $(VENV)/.installed-course
	$(PY) -m course.book

student: $(VENV)/.installed-lab
	$(PY) -m course.student

slides: $(VENV)/.installed-course
	$(PY) -m course.slides

# Refresh the pins (once a term): the newest versions pyproject.toml allows, in a fresh venv
# with Python 3.11; then run `make test` on them before committing binder/ and environment.yml.
pins:
	rm -rf build/pins-venv
	$(PYTHON) -m venv build/pins-venv
	build/pins-venv/bin/python -m pip install --quiet --disable-pip-version-check . packaging
	build/pins-venv/bin/python -m course.pins

bench: $(VENV)/.installed-lab
	$(PY) -m enot_lite.bench --dims 2 4 8 16 --preset quick

# Notebooks are committed without outputs, execution counts or saved widget state.
strip: $(VENV)/.installed-lab
	$(PY) -c 'import nbformat, pathlib; \
	paths = [p for p in sorted(pathlib.Path("notebooks").rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]; \
	nbs = [(p, nbformat.read(p, as_version=4)) for p in paths]; \
	[c.update(outputs=[], execution_count=None) for p, nb in nbs for c in nb.cells if c.cell_type == "code"]; \
	[nb.metadata.pop("widgets", None) for p, nb in nbs]; \
	[nbformat.write(nb, p) for p, nb in nbs]; \
	print("stripped", len(nbs), "notebooks")'

clean:
	rm -rf $(VENV) bench_out build dist .pytest_cache *.egg-info
