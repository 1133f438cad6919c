"""Cross-validation of a Rasa pipeline with Rasa's own `rasa test nlu --cross-validation`.

    .venv/bin/python scripts/cross_validate.py [--folds 5] [--config scripts/pipelines/diet_selector.yml]

Prints accuracy and macro F1 for intent classification and for each retrieval intent's response
selection, and writes them to results/cross-validation/summary.json. For pipelines with Rasa's own
classifiers (DIET and ResponseSelector); `make bench-nlu` compares the answer models on shared features.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def label_rows(report: dict) -> dict:
    """The per-label rows of a Rasa evaluation report, without its averages."""
    return {key: value for key, value in report.items() if isinstance(value, dict) and "support" in value
            and key not in {"macro avg", "weighted avg", "micro avg"}}


def figures(report_path: Path) -> dict:
    report = json.loads(report_path.read_text())
    return {
        "accuracy": report["accuracy"],
        "macro_f1": report["macro avg"]["f1-score"],
        "labels": len(label_rows(report)),
        "examples": report["macro avg"]["support"],
    }


def figures_for_retrieval_intent(report_path: Path, retrieval_intent: str) -> dict:
    """One retrieval intent's share of a response selection report, e.g. the FAQ topics alone.

    Each example is scored by its own retrieval intent's selector, so a label's recall times its support is
    the number of its examples answered correctly.
    """
    report = json.loads(report_path.read_text())
    labels = {key: value for key, value in label_rows(report).items()
              if key.startswith(f"{retrieval_intent}/") and value["support"]}
    examples = sum(value["support"] for value in labels.values())
    return {
        "accuracy": sum(value["recall"] * value["support"] for value in labels.values()) / examples,
        "macro_f1": sum(value["f1-score"] for value in labels.values()) / len(labels),
        "labels": len(labels),
        "examples": examples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--config", default="config.yml")
    parser.add_argument("--out", default="results/cross-validation")
    args = parser.parse_args()
    out = ROOT / args.out
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).with_name("rasa")), "test", "nlu", "--cross-validation", "--folds", str(args.folds),
         "--config", args.config, "--nlu", "data/nlu", "--domain", "domain.yml", "--out", str(out)],
        cwd=ROOT, check=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    summary = {"folds": args.folds, "config": args.config, "seconds": round(time.monotonic() - started)}
    summary["intent"] = figures(out / "intent_report.json")
    for report in sorted(out.glob("*response_selection_report.json")):
        summary[report.name.replace("_report.json", "")] = figures(report)
    summary["faq_topics_alone"] = figures_for_retrieval_intent(out / "response_selection_report.json", "faq")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{args.folds}-fold cross-validation ({args.config}, {summary['seconds']} s)")
    print(f"{'what':<34}{'accuracy':>10}{'macro F1':>10}{'labels':>8}")
    for name, result in summary.items():
        if isinstance(result, dict):
            print(f"{name:<34}{result['accuracy']:>10.3f}{result['macro_f1']:>10.3f}{result['labels']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
