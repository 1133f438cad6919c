# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV := .venv/bin
RASA := RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/rasa
MODEL = $$($(VENV)/python -c 'from bot.nlu.training import model_path; print(model_path())')

.PHONY: run test setup test-setup validate train test-stories test-python shell eval bench bench-quick bench-nlu lock

run: setup  ## Start the assistant (action server, Rasa, website) on loopback
	$(VENV)/python -m bot.launcher

test: test-setup validate train test-stories test-python  ## Run every check and test

setup:
	@scripts/bootstrap.sh

test-setup: setup
	@scripts/install-test-deps.sh

validate: setup  ## Rasa's data validation; any warning fails (see bot/nlu/validation.py)
	RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/python -m bot.nlu.validation

train: setup  ## Train the model if the training data changed
	$(VENV)/python -m bot.nlu.training

test-stories: train  ## Dialogue and NLU checks on the test stories with real user text
	$(RASA) test core --model $(MODEL) --stories tests/ --out results/stories --fail-on-prediction-errors

test-python: setup  ## pytest: bot/, actions, web app, browser, whole stack
	$(VENV)/pytest

shell: train  ## Chat in the terminal (starts the action server beside `rasa shell`)
	@scripts/shell.sh

eval: train  ## Answer-level evaluation of the running assistant on ../shared/eval (questions and callers)
	$(VENV)/python -m bench.evaluation

bench-nlu: setup  ## 5-fold cross-validation of the answer choice: the chosen model beside the candidates
	$(VENV)/python scripts/compare_answer_models.py

bench: setup  ## Benchmarks: quality against baselines, load, memory, training (see bench/README.md)
	@bench/run.sh full

bench-quick: setup
	@bench/run.sh quick

lock:  ## Rebuild requirements.lock from the current .venv
	@{ head -n 2 requirements.lock; $(VENV)/pip freeze --exclude-editable | grep -v '^-e'; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock
