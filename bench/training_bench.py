"""Training time and model size, beside the stock `rasa init` assistant's training time.

Runs in the assistant's venv. On copies of the training inputs (so neither the project's models/ nor its
.rasa/cache is touched), with RASA_CACHE_DIRECTORY pointing at a new, empty directory:
  1. `rasa train --force`: a full training run with an empty cache;
  2. `rasa train` again with no data change: what Rasa's own model fingerprint and cache save;
  3. `python -m bot.nlu.training` in the project: the project's fingerprint check (instant when the model exists);
  4. the stock assistant's `rasa train --force`, also with an empty cache.
Each component's training time is taken from Rasa's "Starting/Finished training component" log lines, which
shows where the time goes. Writes <work>/training.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bot.nlu.training import ensure_model, rasa_executable  # noqa: E402

COMPONENT = re.compile(r"(Starting to train|Finished training) component '([^']+)'")
TIME_LIMIT_S = 1500


def copy_inputs(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("config.yml", "domain.yml"):
        shutil.copy2(source / name, target / name)
    shutil.copytree(source / "data", target / "data")


def timed_train(project: Path, cache: Path, log: Path, force: bool) -> dict:
    command = [rasa_executable(), "train", "--out", "models", "--fixed-model-name", "model"]
    if force:
        command.append("--force")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
           "RASA_CACHE_DIRECTORY": str(cache)}
    load_before = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    components, open_components = {}, {}
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1)
        for line in process.stdout:
            out.write(line)
            match = COMPONENT.search(line)
            if match:
                now = time.monotonic()
                what, name = match.groups()
                if what.startswith("Starting"):
                    open_components[name] = now
                elif name in open_components:
                    components[name] = round(components.get(name, 0) + now - open_components.pop(name), 1)
            if time.monotonic() - started > TIME_LIMIT_S:
                process.kill()
                break
        process.wait(timeout=60)
    seconds = round(time.monotonic() - started, 1)
    if process.returncode != 0:
        raise RuntimeError(f"rasa train failed in {project} (exit {process.returncode}); see {log}")
    model = project / "models" / "model.tar.gz"
    return {"seconds": seconds, "components": components, "model_mb": round(model.stat().st_size / 2**20, 1),
            "load_before": load_before, "load_after": round(os.getloadavg()[0], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "training")
    parser.add_argument("--stock", type=Path, default=BENCH / "work" / "stock")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = {"cpus": os.cpu_count()}

    ours, cache = args.work / "ours", args.work / "cache-ours"
    copy_inputs(ROOT, ours)
    shutil.rmtree(cache, ignore_errors=True)
    print("Training: full `rasa train --force` of the assistant with an empty cache", flush=True)
    result["ours_full"] = timed_train(ours, cache, args.work / "ours-full.log", force=True)
    print(f"Training: {result['ours_full']['seconds']:.0f} s", flush=True)
    result["ours_rerun_rasa"] = timed_train(ours, cache, args.work / "ours-rerun.log", force=False)

    model = ensure_model()  # so the next figure is the fingerprint check alone, as on an unchanged project
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "bot.nlu.training"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"}, timeout=600)
    result["ours_rerun_fingerprint"] = {"seconds": round(time.monotonic() - started, 2)}
    result["ours_model_mb"] = round(model.stat().st_size / 2**20, 1)

    stock, stock_cache = args.work / "stock", args.work / "cache-stock"
    copy_inputs(args.stock, stock)
    shutil.rmtree(stock_cache, ignore_errors=True)
    print("Training: full `rasa train --force` of the stock assistant with an empty cache", flush=True)
    result["stock_full"] = timed_train(stock, stock_cache, args.work / "stock-full.log", force=True)
    print(f"Training: stock {result['stock_full']['seconds']:.0f} s", flush=True)
    (args.work / "training.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
