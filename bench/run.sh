#!/usr/bin/env bash
# Benchmarks of the assistant against references measured in the same run (see bench/README.md).
#   bench/run.sh full    5 folds, load at 1/10/50 visitors for 60 s each, training times (about 1.5 hours on 2 cores)
#   bench/run.sh quick   2 of the 5 folds, load at 1/10 visitors for 20 s each, no training times (about 30 min)
#   bench/run.sh callbacks   200 visitors asking for a callback for 2 minutes: nobody left without an answer
#   bench/run.sh scale   the scaled set-up with one and with two replicas, the same load (bench/scale_load.py)
# Writes bench/results/report.md, summary.json and PNG charts, and prints the summary table.
set -euo pipefail
MODE="${1:-quick}"
case "$MODE" in
  full) FOLDS=0,1,2,3,4; USERS=1,10,50; SECONDS_PER_RUN=60 ;;
  quick) FOLDS=0,1; USERS=1,10; SECONDS_PER_RUN=20 ;;
  callbacks|scale) ;;
  *) echo "usage: bench/run.sh full|quick|callbacks|scale" >&2; exit 2 ;;
esac
TARGET="${BENCH_TARGET:-auto}"  # auto | chat | rest: which endpoint of the assistant the load goes to

cd "$(dirname "$0")/.."
ROOT="$PWD"
MAIN_PY="$ROOT/.venv/bin/python"
BENCH_VENV="$ROOT/bench/.venv"
LOCK="$ROOT/bench/requirements.lock"
WORK="$ROOT/bench/work"
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
STARTED=$(date +%s)

[ -x "$MAIN_PY" ] || { echo "The assistant's venv is missing: run 'make setup' first." >&2; exit 1; }

find_python311() {
  if command -v python3.11 >/dev/null 2>&1; then command -v python3.11; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    local candidate
    candidate=$(ls -d "$(pyenv root)"/versions/3.11.*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$candidate" ]; then echo "$candidate"; return; fi
  fi
  echo "Python 3.11 not found: install it (e.g. 'pyenv install 3.11') for the benchmark's venv." >&2
  return 1
}

setup_bench_venv() {
  # Rebuilt only when the lock file changed since the last install.
  local stamp="$BENCH_VENV/.installed-lock.sha256" want
  want=$(sha256sum "$LOCK" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  echo "== Setting up bench/.venv from bench/requirements.lock"
  rm -rf "$BENCH_VENV"
  "$(find_python311)" -m venv "$BENCH_VENV"
  local pip="$BENCH_VENV/bin/pip" torch rest
  torch=$(grep -E '^torch==' "$LOCK")
  rest=$(mktemp)
  grep -vE '^(torch==|#)' "$LOCK" > "$rest"
  # The CPU build first: with torch already there, nothing can pull a CUDA build in.
  # pip names every configured local index that lacks a package; those lines are noise here.
  "$pip" install --quiet "$torch" 2> >(grep -v '^WARNING: Location' >&2)
  "$pip" install --quiet --no-deps -r "$rest" 2> >(grep -v '^WARNING: Location' >&2)
  rm -f "$rest"
  if "$pip" freeze | grep -iE '^(nvidia-|triton|cuda)'; then
    echo "CUDA packages got into bench/.venv; pin a CPU-only set in bench/requirements.lock." >&2
    exit 1
  fi
  "$pip" check
  echo "$want" > "$stamp"
}

step() { echo; echo "== $* ($(( $(date +%s) - STARTED )) s)"; }

setup_bench_venv
mkdir -p "$WORK" "$ROOT/bench/results"
if [ "$MODE" = callbacks ]; then
  exec "$MAIN_PY" bench/callback_load.py --work "$WORK/callback-load"
fi
if [ "$MODE" = scale ]; then
  exec "$MAIN_PY" bench/scale_load.py --work "$WORK/scale"
fi
rm -rf "$WORK/quality" "$WORK/load" "$WORK/training"

step "Answer quality: folds and held-out questions"
"$MAIN_PY" bench/quality_prepare.py --work "$WORK/quality"
step "Answer quality: baselines (TF-IDF + logistic regression, MiniLM nearest neighbour)"
"$BENCH_VENV/bin/python" bench/quality_baselines.py --work "$WORK/quality" --folds "$FOLDS" 2>&1 | { grep -v "Loading weights" || true; }
step "Answer quality: the project's pipeline, trained per fold"
"$MAIN_PY" bench/quality_rasa.py --work "$WORK/quality" --folds "$FOLDS" > "$WORK/quality-rasa.log" 2>&1 \
  || { tail -n 30 "$WORK/quality-rasa.log" >&2; exit 1; }
grep -E '^Rasa:' "$WORK/quality-rasa.log" || true
step "Answer-level evaluation: first messages and callback conversations (bench/evaluation)"
rm -rf "$WORK/evaluation"
if [ -d "$ROOT/../shared/eval" ]; then
  "$MAIN_PY" -m bench.evaluation --out "$WORK/evaluation/shared" > "$WORK/evaluation-shared.log" 2>&1 \
    || { tail -n 30 "$WORK/evaluation-shared.log" >&2; exit 1; }
fi
"$MAIN_PY" -m bench.evaluation --questions bench/heldout/questions.yml --callers bench/heldout/callers.yml \
  --out "$WORK/evaluation/team" > "$WORK/evaluation-team.log" 2>&1 || { tail -n 30 "$WORK/evaluation-team.log" >&2; exit 1; }
step "Latency, throughput and memory under load (Locust)"
"$MAIN_PY" bench/load.py --work "$WORK/load" --users "$USERS" --seconds "$SECONDS_PER_RUN" --target "$TARGET"
if [ "$MODE" = full ]; then
  step "Training time and model size"
  "$MAIN_PY" bench/training_bench.py --work "$WORK/training"
fi
step "Report"
"$BENCH_VENV/bin/python" bench/report.py --mode "$MODE" --work "$WORK" --out "$ROOT/bench/results" \
  --run-seconds "$(( $(date +%s) - STARTED ))"
echo "Finished in $(( ($(date +%s) - STARTED) / 60 )) min $(( ($(date +%s) - STARTED) % 60 )) s."
