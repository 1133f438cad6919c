"""The project's NLU pipeline on the benchmark folds and on the held-out questions.

Runs in the assistant's venv (Rasa 3.6 needs Python 3.10). For each requested fold it trains the pipeline of
config.yml on the other folds with rasa.model_training.train_nlu, then parses the fold's examples; for the
held-out questions it uses the assistant's real model (bot.nlu.training.ensure_model: trained on all data).
Writes <work>/rasa.json with one predicted label per example.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

# Fold models must not fill, or be served from, the project's training cache.
os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))


def predicted_label(parse: dict, retrieval_intents: set) -> tuple:
    intent = parse.get("intent") or {}
    name = intent.get("name") or "nlu_fallback"
    confidence = float(intent.get("confidence") or 0.0)
    if name in retrieval_intents:
        response = ((parse.get("response_selector") or {}).get(name) or {}).get("response") or {}
        key = response.get("intent_response_key")
        if key:
            return key, confidence
    return name, confidence


async def parse_all(model: Path, texts: list, retrieval_intents: set) -> tuple:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    predictions, started = [], time.perf_counter()
    for text in texts:
        predictions.append(predicted_label(await agent.parse_message(text), retrieval_intents))
    per_message_ms = 1000 * (time.perf_counter() - started) / max(1, len(texts))
    return predictions, per_message_ms


def write_fold_data(dataset: dict, test_indices: set, path: Path) -> None:
    """The fold's training file keeps the original markup (entities, synonyms, regexes, responses)."""
    from quality_prepare import load_training_data
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = load_training_data()
    assert len(data.nlu_examples) == len(dataset["examples"]), "the training data changed since dataset.json"
    train = [m for i, m in enumerate(data.nlu_examples) if i not in test_indices]
    subset = TrainingData(training_examples=train, entity_synonyms=data.entity_synonyms,
                          regex_features=data.regex_features, lookup_tables=data.lookup_tables,
                          responses=data.responses)
    path.parent.mkdir(parents=True, exist_ok=True)
    RasaYAMLWriter().dump(path, subset)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "quality")
    parser.add_argument("--folds", default="0,1,2,3,4", help="comma-separated fold numbers to run")
    parser.add_argument("--config", default=str(ROOT / "config.yml"))
    parser.add_argument("--model", type=Path, help="model for the held-out set (default: the assistant's)")
    parser.add_argument("--skip-heldout", action="store_true")
    args = parser.parse_args()

    from rasa.model_training import train_nlu

    dataset = json.loads((args.work / "dataset.json").read_text())
    retrieval = set(dataset["retrieval_intents"])
    result = {"config": args.config, "folds": {}, "heldout": None}
    for fold in [int(f) for f in args.folds.split(",") if f != ""]:
        test = dataset["folds"][fold]
        fold_dir = args.work / f"fold{fold}"
        write_fold_data(dataset, set(test), fold_dir / "train.yml")
        started = time.monotonic()
        print(f"Rasa: training fold {fold + 1} of {dataset['n_folds']} ({len(dataset['examples']) - len(test)} "
              "examples)", flush=True)
        model = train_nlu(args.config, str(fold_dir / "train.yml"), str(fold_dir), fixed_model_name="model",
                          domain=str(ROOT / "domain.yml"))
        train_s = time.monotonic() - started
        if model is None:
            raise SystemExit(f"training fold {fold} failed")
        predictions, ms = asyncio.run(parse_all(Path(model), [dataset["examples"][i]["text"] for i in test], retrieval))
        result["folds"][str(fold)] = {
            "indices": test, "predicted": [p for p, _ in predictions], "confidence": [c for _, c in predictions],
            "train_seconds": round(train_s, 1), "parse_ms": round(ms, 2),
        }
        Path(model).unlink()  # a few tens of MB each, and never used again
        print(f"Rasa: fold {fold + 1} trained in {train_s:.0f} s", flush=True)
    if not args.skip_heldout:
        if args.model is None:
            from bot.nlu.training import ensure_model

            args.model = ensure_model()
        predictions, ms = asyncio.run(parse_all(args.model, [h["text"] for h in dataset["heldout"]], retrieval))
        result["heldout"] = {"model": str(args.model), "predicted": [p for p, _ in predictions],
                             "confidence": [c for _, c in predictions], "parse_ms": round(ms, 2)}
    (args.work / "rasa.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
