# The two commands a newcomer needs: `make run` and `make test`. `make help` lists the others.
SHELL := /bin/bash
VENV := .venv/bin
RASA := RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/rasa
MODEL = $$($(VENV)/python -c 'from bot.nlu.training import model_path; print(model_path())')
# What needs neither the trained model nor the sentence model nor a browser, and waits out no real timeouts.
FAST := not stack and not browser and not model and not processes and not scale

.PHONY: run test test-fast help setup setup-packages test-setup lint validate train test-stories test-python \
	shell eval bench bench-quick bench-nlu load lock test-scale run-scaled bench-scale

run: setup  ## Start the assistant (action server, Rasa, website) on loopback
	$(VENV)/python -m bot.launcher

test: test-setup lint validate train test-stories test-python test-scale  ## Every check and test (what CI runs)

test-fast: setup-packages lint  ## The tests that need no model and no browser (about a minute)
	$(VENV)/pytest -m "$(FAST)" -n 2

help:  ## This list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | expand -t 16

setup:  ## Create .venv from requirements.lock and install the sentence model (only what is missing)
	@scripts/bootstrap.sh

setup-packages:
	@scripts/bootstrap.sh --packages-only

test-setup: setup  ## Install what the browser tests need (Debian's chromium, the pinned axe-core)
	@scripts/install-test-deps.sh

lint: setup-packages  ## Ruff (configuration in pyproject.toml)
	$(VENV)/ruff check .

validate: setup  ## Rasa's data validation; any warning fails (see bot/nlu/validation.py)
	RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/python -m bot.nlu.validation

train: setup  ## Train the model if its inputs changed (models/<hash>.tar.gz)
	$(VENV)/python -m bot.nlu.training

test-stories: train  ## Dialogue and NLU checks on the test stories with real user text
	$(RASA) test core --model $(MODEL) --stories tests/ --out results/stories --fail-on-prediction-errors

test-python: setup  ## pytest: every tier, the whole stack and the browser included (the scaled set-up apart)
	$(VENV)/pytest -m "not scale"

test-scale: test-setup train  ## The scaled set-up on this machine: Redis, PostgreSQL, nginx, two of everything
	$(VENV)/pytest tests/scale -m scale

run-scaled: test-setup train  ## The scaled set-up on this machine, to try by hand (two replicas behind nginx)
	$(VENV)/python -m bot.scaling run --replicas 2

shell: train  ## Chat in the terminal (starts the action server beside `rasa shell`)
	@scripts/shell.sh

eval: train  ## What people see: replies to ../shared/eval's questions and callers, scored
	$(VENV)/python -m bench.evaluation

bench-nlu: setup  ## 5-fold cross-validation of the answer choice: the chosen model beside the candidates
	$(VENV)/python scripts/compare_answer_models.py

bench: setup  ## Benchmarks: quality, load, memory, training, beside the stock bot (see bench/README.md)
	@bench/run.sh full

bench-quick: setup  ## A shorter benchmark run (about half an hour)
	@bench/run.sh quick

load: train  ## 200 visitors asking for a callback for 2 minutes: every one confirmed once or told honestly
	@bench/run.sh callbacks

bench-scale: test-setup train  ## The same load on the scaled set-up with one and with two replicas
	@bench/run.sh scale

lock:  ## Rebuild requirements.lock from the current .venv
	@{ head -n 2 requirements.lock; $(VENV)/pip freeze --exclude-editable | grep -v '^-e'; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock
