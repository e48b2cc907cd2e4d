# README.md's two commands, `make demo` and `make test`, and the developer's ones
# (docs/developer.md#working-on-it). Each creates .venv if missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The Freqtrade release .venv runs on: the newest of the supported window (pyproject.toml's
# range); `make test-compat` runs the release-sensitive tests on every release of the window.
FREQTRADE := 2026.9
# Both cores: the backtest and e2e files run side by side (pytest-xdist), one file per worker.
# Three workers keep both cores busy while the live bots wait on the network (8 min 38 s, 1064
# tests, fresh clone, quiet 2-core machine; four workers: 8 min 30 s, no better: both cores are
# the limit); a first buy the busy machine prices stale goes at market on the next loop
# (tests/e2e/test_e2e_starved.py), so the live bots are not starved by it.
XDIST  ?= -n 3 --dist loadfile

.PHONY: venv demo test test-fast test-exchange test-scale test-soak test-compat lint format typecheck bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,dev]' \
		'freqtrade[plot,hyperopt]==$(FREQTRADE)' 'freqtrade-client==$(FREQTRADE)'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m tools.demo

test: $(STAMP)
	$(PY) -m pytest -q $(XDIST)

test-fast: $(STAMP)
	$(PY) -m pytest -q -m unit

# Live bots facing what real exchanges do (tests/exchange: halts and delistings, maintenance and
# the clock, order-count limits and bans, rule changes, hands on the account; not part of `make
# test`). Each test has a stand-in of its own: spread test by test over three workers.
test-exchange: $(STAMP)
	$(PY) -m pytest -q -n 3 --dist load -m exchange

# Twenty live bots on one stand-in account and one PostgreSQL server (4-7 minutes, both cores;
# not part of `make test`): weight per minute, memory and CPU per bot.
test-scale: $(STAMP)
	$(PY) -m pytest -q -m scale

# The soak (tests/soak): a seeded random schedule of price jumps, exchange faults, kill -9 and
# restarts, config reloads and deposits against live bots sharing one account on the stand-in
# replaying two weeks of history at accelerated time, the invariants after every step (at most
# 10 minutes; not part of `make test`). SOAK_SEED=N replays a seed (SOAK_SEED=4,5: several);
# SOAK_DAYS, SOAK_SPEED: simulated days, history per wall second (harness.py).
test-soak: $(STAMP)
	$(PY) -m pytest -q -p no:xdist -m soak

# Every Freqtrade release of the supported window (ft/sourceguard.py RELEASES), each in a
# virtualenv of its own (.venv-compat/<release>, installed from PyPI the first time): the guards'
# tables, the backtest truth tests, Freqtrade's commands, a dry-run and a live bot on the
# stand-in, and a summary per release (not part of `make test`; 14 min 28 s from scratch on the
# busy 2-core machine, 4 releases, pip's cache warm). COMPAT_ARGS: e.g. --releases 2026.6.
test-compat: $(STAMP)
	$(PY) -m tools.compat $(COMPAT_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)
	$(VENV)/bin/mypy rebalance_plugin strategies hyperopts

bench: $(STAMP)
	$(PY) -m tools.bench

# The manual (docs/, mkdocs.yml) as a site in site/, as Freqtrade builds its own: --strict fails on
# any warning, a broken link or heading included. Offline: no plugin fetches anything. The
# theme's banner (Material for MkDocs: end of life May 2027, Zensical its successor) is muted.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) .venv-compat build *.egg-info site
