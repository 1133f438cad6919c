#!/usr/bin/env bash
# A quick chat in the terminal: the action server in the background, `rasa shell` in front
# (through bot/nlu/rasa_server.py, which applies its fixes to Rasa first).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2
# The secret Rasa sends the action server (endpoints.yml); a new one for each chat unless one is set.
export RG_ACTION_SERVER_TOKEN="${RG_ACTION_SERVER_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}"
mkdir -p var
model=$(.venv/bin/python -c 'from bot.nlu.training import model_path; print(model_path())')
.venv/bin/python -m bot.action_server --port 5055 > var/shell-actions.log 2>&1 &
actions_pid=$!
trap 'kill $actions_pid 2>/dev/null || true' EXIT
.venv/bin/python -m bot.nlu.rasa_server shell --model "$model" --endpoints endpoints.yml
