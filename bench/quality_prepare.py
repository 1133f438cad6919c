"""Builds the answer-quality data set: labelled examples, the cross-validation folds and the held-out set.

Runs in the assistant's own venv, because Rasa's loader is the authority on what the training data means
(entity markup stripped from the text, retrieval intents as "faq/cost"). Writes <work>/dataset.json,
which the Rasa runner and the baselines both read, so every system sees exactly the same folds.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml
from sklearn.model_selection import StratifiedKFold

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SEED = 20240601
N_FOLDS = 5


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def load_training_data():
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(ROOT / "data" / "nlu"))
    return data.merge(load_data(str(ROOT / "data" / "responses")))


def label_of(message) -> str:
    return message.get("intent_response_key") or message.get("intent")


def load_heldout(path: Path) -> list:
    items = yaml.safe_load(path.read_text())["heldout"]
    return [{"text": str(item["text"]), "label": str(item["label"])} for item in items]


def check_heldout(heldout: list, examples: list, labels: set) -> None:
    """The held-out set only means something while none of it is training data."""
    seen = {normalise(example["text"]): example["label"] for example in examples}
    leaked = [item["text"] for item in heldout if normalise(item["text"]) in seen]
    assert not leaked, f"held-out questions found in data/nlu (remove them from one or the other): {leaked}"
    unknown = sorted({item["label"] for item in heldout} - labels)
    assert not unknown, f"held-out labels that the training data does not have: {unknown}"
    duplicates = len(heldout) - len({normalise(item["text"]) for item in heldout})
    assert duplicates == 0, f"{duplicates} duplicated held-out questions"
    faq = {label for label in labels if label.startswith("faq/")}
    missing = sorted(faq - {item["label"] for item in heldout})
    assert not missing, f"FAQ topics without a held-out question: {missing}"
    assert len(heldout) >= 120, f"only {len(heldout)} held-out questions; the benchmark needs at least 120"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "quality")
    parser.add_argument("--heldout", type=Path, default=BENCH / "heldout" / "labelled.yml")
    args = parser.parse_args()

    data = load_training_data()
    examples = [{"text": m.get("text"), "label": label_of(m)} for m in data.nlu_examples]
    labels = {example["label"] for example in examples}
    heldout = load_heldout(args.heldout)
    check_heldout(heldout, examples, labels)

    splitter = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=SEED)
    folds = [test.tolist() for _, test in splitter.split([e["text"] for e in examples],
                                                          [e["label"] for e in examples])]
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "dataset.json").write_text(json.dumps({
        "seed": SEED,
        "n_folds": N_FOLDS,
        "examples": examples,
        "folds": folds,
        "heldout": heldout,
        "retrieval_intents": sorted(data.retrieval_intents),
    }, indent=1))
    print(f"{len(examples)} training examples in {len(labels)} labels, {N_FOLDS} folds (seed {SEED}); "
          f"{len(heldout)} held-out questions, none of them in the training data", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
