# The two commands of the README, and the steps they are made of. CI runs `make test` (see .ci/run).
# Everything a command needs is installed by scripts/ — nothing by hand.
.PHONY: demo test test-fast setup services bench lint clean

PY := .venv/bin/python

## Set up on a fresh machine and run the demo province.
demo: setup
	.venv/bin/jicai demo

## Set up on a fresh machine (venv, services, Java) and run the whole test suite on every engine.
test: setup services
	.venv/bin/ruff check src tests benchmarks
	. ./.test-env && $(PY) -m pytest -n 2 --dist loadgroup -p no:cacheprovider -q -rs

## The inner loop: DuckDB only, no slow tier.
test-fast: setup
	$(PY) -m pytest -q -m "not slow and not postgres and not spark" -x

setup: .venv/.installed

.venv/.installed: pyproject.toml constraints.txt scripts/setup.sh scripts/web_assets.sh web-assets/package-lock.json
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
