# Entry points; each creates or reuses the local virtual environment .venv.
#   make run   - one replication of the shipped EU Centre baseline (configs/eu-centre-2019.yaml),
#                then its report.html (figures, KPIs, assumptions, STRESS-DES) in the run's folder;
#                installs what running needs only (pip install -e .)
#   make test  - ruff, mypy, then the whole test suite, statistical validation included; adds the test
#                extras (pip install -e '.[test]') and the headless browser the report test drives
#   make check - the quick loop while working: lint, type check and the fast unit tests (about a minute)
#
# Two stamps in .venv record what is installed, each newer than pyproject.toml when current:
#   .installed-run   the package and its runtime dependencies
#   .installed-test  the test extras on top (made after .installed-run, so `make test` after
#                    `make run` only adds the extras, and `make run` after `make test` installs nothing)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test check venv-run venv-test browser golden clean

venv-run: $(RUN_STAMP)
venv-test: $(TEST_STAMP)

$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# tests/test_report_browser.py drives Debian's chromium and chromium-driver. Installed here when
# missing and apt-get can run as root (as in CI); otherwise that one test is skipped (failed under CI).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium and chromium-driver for the browser test"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  { echo "apt-get could not install them: the browser test will be skipped"; [ -z "$$CI" ]; }; \
	else echo "chromium or chromedriver missing and apt-get cannot run as root: the browser test will be skipped"; fi

# `routing-sim run` prints `results: <folder>` last; the report is written into that folder.
run: $(RUN_STAMP)
	@$(VENV)/bin/routing-sim run configs/eu-centre-2019.yaml > $(VENV)/last-run.txt || \
	  { status=$$?; cat $(VENV)/last-run.txt; exit $$status; }
	@cat $(VENV)/last-run.txt
	$(VENV)/bin/routing-sim report "$$(sed -n 's/^results: //p' $(VENV)/last-run.txt | tail -n 1)"

test: $(TEST_STAMP) browser
	$(PY) -m ruff check routing_sim tests benchmarks
	$(PY) -m mypy routing_sim
	$(PY) -m pytest

check: $(TEST_STAMP)
	$(PY) -m ruff check routing_sim tests benchmarks
	$(PY) -m mypy routing_sim
	$(PY) -m pytest -q -m "unit and not slow"

# after a deliberate change of the model's figures: rewrite tests/golden/*.kpis.json, print what moved
golden: $(RUN_STAMP)
	$(PY) -m tests.golden.regenerate

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
