# Two entry points; both create or reuse the local virtual environment .venv.
#   make run   - one replication of the shipped EU Centre baseline (configs/eu-centre-2019.yaml),
#                then its report.html (figures, KPIs, assumptions, STRESS-DES) in the run's folder
#   make test  - the whole test suite, statistical validation included
#   make check - the quick loop while working: lint and the fast unit tests (about a minute)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check venv clean golden

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# `routing-sim run` prints `results: <folder>` last; the report is written into that folder.
run: $(STAMP)
	@$(VENV)/bin/routing-sim run configs/eu-centre-2019.yaml > $(VENV)/last-run.txt || \
	  { status=$$?; cat $(VENV)/last-run.txt; exit $$status; }
	@cat $(VENV)/last-run.txt
	$(VENV)/bin/routing-sim report "$$(sed -n 's/^results: //p' $(VENV)/last-run.txt | tail -n 1)"

test: $(STAMP)
	$(PY) -m ruff check routing_sim tests benchmarks
	$(PY) -m pytest

check: $(STAMP)
	$(PY) -m ruff check routing_sim tests benchmarks
	$(PY) -m pytest -q -m "unit and not slow"

# after a deliberate change of the model's figures: rewrite tests/golden/*.kpis.json, print what moved
golden: $(STAMP)
	$(PY) -m tests.golden.regenerate

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
