"""Which model chooses the answer best: a comparison on the same features and the same folds.

    .venv/bin/python scripts/compare_answer_models.py [--folds 5]

Every candidate reads what config.yml's AnswerClassifier reads: the all-mpnet-base-v2 sentence embedding and
TF-IDF-weighted character n-grams (1 to 4, within word boundaries), each scaled to unit length. Examples come
from data/nlu, labelled by answer ("faq/cost") or plain intent ("greet"), split into stratified folds with a
fixed seed. Candidates:

- flat logistic regression over every answer (config.yml's choice);
- two-stage: a logistic regression picks the topic (groups of answers that share a subject, below), then a
  second one, trained on that topic's examples only, picks the answer within it;
- a linear support vector machine over every answer (accurate, but gives no probabilities for the fallback).

Rasa's own DIET classifier with a ResponseSelector per retrieval intent (scripts/pipelines/diet_selector.yml) is
compared on what people see: train it with `.venv/bin/rasa train --config scripts/pipelines/diet_selector.yml` and
score it with `python -m bench.evaluation --model models/<its file>` (README, "Choosing the models"); Rasa's own
cross-validation of it is `scripts/cross_validate.py --config scripts/pipelines/diet_selector.yml` (slow: about
half an hour per fold on 2 cores).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Answers that share a subject, for the two-stage candidate. Labels not listed are a topic of their own.
TOPICS: Dict[str, List[str]] = {
    "what_it_is": ["what_is_rj", "principles", "who_is_it_for", "what_is_rp"],
    "choice": ["voluntary", "not_obliged", "withdraw", "forgiveness"],
    "meetings": ["safety", "meeting", "supporters", "ground_rules", "agreement", "indirect", "indirect_or_meeting",
                 "unknown_remote_meeting"],
    "people": ["facilitators", "impartial", "are_you_human", "volunteering"],
    "who_can": ["eligibility", "witnesses", "sensitive_cases", "old_cases", "prison", "family_involved",
                "person_responsible", "unknown_under_18", "unknown_outside_area"],
    "justice": ["sentence", "deferred_sentence", "victims_code", "youth_offender", "responsibility"],
    "evidence": ["evidence", "evidence_savings", "evidence_local"],
    "service": ["about_rg", "police_link", "national_bodies", "history", "accreditation", "not_only_crime",
                "funding", "cost"],
    "referral": ["referral", "referral_professional", "no_guarantee", "pass_message"],
    "privacy": ["confidentiality", "details_shared", "ask_privacy"],
    "practice": ["settings", "schools", "workplaces", "care_settings", "mediation", "community_trigger",
                 "training", "unknown_training_cost"],
    "contact": ["contact", "social_media", "chat_limits", "unknown_address", "unknown_hours", "unknown_reply_time",
                "unknown_duration"],
    "support": ["victim_support", "police_non_emergency", "emergency_sms", "emotional_support",
                "domestic_abuse_help"],
    "declines": ["other", "legal_advice", "case_info", "other_services", "other_mediation"],
}
TOPIC_OF = {answer: topic for topic, answers in TOPICS.items() for answer in answers}


def topic(label: str) -> str:
    return TOPIC_OF.get(label.split("/", 1)[-1], label)


def load_examples():
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(ROOT / "data" / "nlu"))
    examples = [e for e in data.intent_examples if e.get("text")]
    return [e.get("text") for e in examples], np.array([e.get("intent_response_key") or e.get("intent")
                                                        for e in examples])


def features(train_texts, test_texts, train_embedding, test_embedding, scale: float):
    grams = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, lowercase=True)
    a = normalize(grams.fit_transform(train_texts))
    b = normalize(grams.transform(test_texts))
    return (scipy.sparse.hstack([scipy.sparse.csr_matrix(normalize(train_embedding) * scale), a]).tocsr(),
            scipy.sparse.hstack([scipy.sparse.csr_matrix(normalize(test_embedding) * scale), b]).tocsr())


class TwoStage:
    def __init__(self, make):
        self.make = make

    def fit(self, X, y):
        topics = np.array([topic(label) for label in y])
        self.first = self.make().fit(X, topics)
        self.second = {}
        for name in set(topics):
            rows = topics == name
            labels = set(y[rows])
            self.second[name] = self.make().fit(X[rows], y[rows]) if len(labels) > 1 else next(iter(labels))
        return self

    def predict(self, X):
        out = []
        for row, name in zip(X, self.first.predict(X)):
            model = self.second[name]
            out.append(model if isinstance(model, str) else model.predict(row)[0])
        return np.array(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--C", type=float, default=20.0)
    parser.add_argument("--scale", type=float, default=2.0)
    args = parser.parse_args()
    from bot.nlu.sentence_featurizer import SentenceEncoder

    texts, labels = load_examples()
    print(f"{len(texts)} examples, {len(set(labels))} labels, {len(set(map(topic, labels)))} topics", flush=True)
    embedding = SentenceEncoder.shared().encode(texts)
    candidates = {
        "flat logistic regression (chosen)": lambda: LogisticRegression(C=args.C, max_iter=1000),
        "two-stage: topic, then answer": lambda: TwoStage(lambda: LogisticRegression(C=args.C, max_iter=1000)),
        "linear SVM (no probabilities)": lambda: LinearSVC(C=0.5),
    }
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=1)
    texts_array = np.array(texts, dtype=object)
    faq = np.array([label.startswith("faq/") for label in labels])
    print(f"\n{'candidate':<38}{'all answers':>12}{'FAQ only':>10}{'topic':>8}{'seconds':>9}")
    for name, make in candidates.items():
        started = time.monotonic()
        predicted = np.empty(len(labels), dtype=object)
        for train, test in folds.split(texts_array, labels):
            a, b = features(list(texts_array[train]), list(texts_array[test]), embedding[train], embedding[test],
                            args.scale)
            predicted[test] = make().fit(a, labels[train]).predict(b)
        right = predicted == labels
        same_topic = np.array([topic(p) == topic(t) for p, t in zip(predicted, labels)])
        print(f"{name:<38}{right.mean():>12.3f}{right[faq].mean():>10.3f}{same_topic.mean():>8.3f}"
              f"{time.monotonic() - started:>9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
