# The two commands of the README, and the steps they are made of. CI runs `make test` (see .ci/run).
# Everything a command needs is installed by scripts/ — nothing by hand.
.PHONY: demo test test-fast setup setup-core services bench lint clean

PY := .venv/bin/python

## Set up on a fresh machine and run the demo province (the core only: no PySpark, no test tools).
demo: setup-core
	.venv/bin/jicai demo

## Set up on a fresh machine (venv, services, Java) and run the whole test suite on every engine.
test: setup services
	.venv/bin/ruff check src tests benchmarks
	. ./.test-env && $(PY) -m pytest -n 2 --dist loadgroup -p no:cacheprovider -q -rs

## The inner loop: DuckDB only, no slow tier.
test-fast: setup
	$(PY) -m pytest -q -m "not slow and not postgres and not spark" -x

setup: .venv/.installed

setup-core: .venv/.installed-core

DEPS := pyproject.toml constraints.txt scripts/setup.sh scripts/web_assets.sh web-assets/package-lock.json

# everything (the tests' tools, PySpark); it includes the core
.venv/.installed: $(DEPS)
	bash scripts/setup.sh test
	touch $@ .venv/.installed-core

.venv/.installed-core: $(DEPS)
	bash scripts/setup.sh
	touch $@

services:
	bash scripts/services.sh > .test-env

bench: setup
	$(PY) benchmarks/run.py

lint: setup
	.venv/bin/ruff check src tests benchmarks

clean:
	rm -rf .venv jicai-data .test-env
