# `make demo` and `make test` each build .venv when it is missing, and rebuild it when
# pyproject.toml or constraints.txt change (the stamp file is older than them).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1

.PHONY: demo test test-serial test-slow lint docs bench mutation clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,lint,mutation,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lpft demo

# Two pytest-xdist workers, each module whole on one of them, the longest modules first
# (tests/conftest.py); --durations: the slowest tests, for keeping the suite short.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

# One process, the tests in file order: slower, for reading one failure's output in sequence.
test-serial: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15

# ruff (style, likely bugs) and mypy (types), configured in pyproject.toml; CI runs this first.
lint: $(STAMP)
	$(BIN)/ruff check lpft tests bench examples docs
	$(BIN)/mypy
	$(BIN)/lint-imports  # ARCHITECTURE.md's layering: the contracts in pyproject.toml

# The documentation site (mkdocs.yml, docs/) into site/; CI runs this after lint. Not --quiet:
# MkDocs then drops its warnings before --strict counts them, and a broken link would pass.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/lp_path.py
	$(BIN)/python bench/ray_overhead.py
	$(BIN)/python bench/analyze_1m.py

# Not part of `make test` (hours on 2 cores): how many deliberate bugs in the code behind the
# published numbers the tests catch. MUTATION_ARGS: --fresh, --retest, --only 'lpft.best.*', --report.
mutation: $(STAMP)
	$(BIN)/python bench/mutation_score.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache site
