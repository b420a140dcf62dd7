# Two-command quick start: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCENARIO ?= scenarios/western_hub.yaml
# the report test opens a report in Debian's chromium (driven by playwright, no browser download)
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test docs bench lint clean browser

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "aidc-twin needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ageing]'
	$(BIN)/python -m pip install --quiet --no-deps 'blast-lite==1.1.1'  # see pyproject.toml, ageing
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/aidc-twin run $(SCENARIO)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the report test needs chromium at $(CHROMIUM) (Debian package chromium)"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

browser: $(CHROMIUM)

# the documentation site, in strict mode: a broken link or a warning fails the build
# (the two variables silence banners that MkDocs's plugins print about MkDocs 2)
DOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true
docs: $(STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs build --strict --site-dir site

# the suite builds the site the same way, strict, and reads it in chromium (tests/test_docs.py)
# the suite runs in one worker per core (pytest-xdist); a test file stays in one worker, so its
# module fixtures are built once (TEST_WORKERS=0 runs it in this process)
TEST_WORKERS ?= auto
test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/run_year.py
	$(BIN)/python benchmarks/score_fleet.py
	$(BIN)/python benchmarks/power_flows.py
	$(BIN)/python benchmarks/optimizer.py
	$(BIN)/python benchmarks/sizing.py
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/fleet_oracle.py
	$(BIN)/python benchmarks/ageing.py
	$(BIN)/python benchmarks/robustness.py
	$(BIN)/aidc-twin bench --suite standard --out benchmarks/results/bench-standard
	$(BIN)/aidc-twin bench --suite east_west --out benchmarks/results/bench-east_west

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
