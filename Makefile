# Two commands from a fresh clone:  `make lab` (set up and open the notebooks), `make test` (run every test).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
LAB_ARGS ?=

.PHONY: lab test bench strip clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	touch $@

# Reinstall only when pyproject.toml changes (the package itself is editable).
$(VENV)/.installed-lab: pyproject.toml $(VENV)/.created
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.created
	$(PIP) -e ".[test]"
	touch $@ $(VENV)/.installed-lab

lab: $(VENV)/.installed-lab
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

# Unit tests, every notebook in a fresh kernel (nbval, quick mode) and the browser test.
test: $(VENV)/.installed-test
	ENOT_QUICK=1 $(PY) -m pytest

bench: $(VENV)/.installed-lab
	$(PY) -m enot_lite.bench --dims 2 4 8 16 --preset quick

# Notebooks are committed without outputs.
strip: $(VENV)/.installed-lab
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb notebooks/solutions/*.ipynb 2>/dev/null || true

clean:
	rm -rf $(VENV) bench_out .pytest_cache *.egg-info
