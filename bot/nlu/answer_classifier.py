"""One linear classifier over every answer the assistant can give, for Rasa's NLU pipeline.

Each FAQ answer is its own label ("faq/cost", "faq/withdraw", "out_of_scope/legal_advice"), beside the plain
intents ("greet", "request_callback", "emergency_danger"): one logistic regression chooses among all of them
at once, on the sentence embedding and the character n-grams. Chosen by measurement over Rasa's DIET with
a ResponseSelector per retrieval intent, and over a two-stage choice of topic then answer
(scripts/compare_answer_models.py; README, "Choosing the models").

Rasa 3.6 ships a LogisticRegressionClassifier, but it predicts plain intents only, fixes the regularisation
at C=1 and reads raw n-gram counts beside a unit-length embedding, which underfits here by several points.
This component keeps Rasa's retrieval intents (so `utter_faq` answers from the domain's responses as usual):
it writes the intent and, for retrieval intents, the response selector's output that ActionRetrieveResponse
reads. scikit-learn does the learning; the model is stored with skops, as Rasa's own classifier is.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

logger = logging.getLogger(__name__)

RESPONSE_SELECTOR = "response_selector"


def split_label(label: str) -> Tuple[str, Optional[str]]:
    """'faq/cost' -> ('faq', 'faq/cost'); 'greet' -> ('greet', None)."""
    return (label.split("/", 1)[0], label) if "/" in label else (label, None)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class AnswerClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "skops"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Names (aliases) of the featurizers to read; all of them when empty.
            "featurizers": [],
            # Inverse regularisation strength of the logistic regression.
            "C": 20.0,
            # The embedding's weight beside the unit-length n-gram vector.
            "embedding_scale": 2.0,
            "max_iter": 1000,
            "ranking_length": 10,
            "random_seed": 1,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[Dict[str, Any]] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model  # {"classifier": LogisticRegression, "tfidf": TfidfTransformer, "labels": [...]}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "AnswerClassifier":
        return cls(config, model_storage, resource)

    # --- features ---

    def _raw_features(self, messages: List[Message]) -> Tuple[np.ndarray, scipy.sparse.csr_matrix]:
        featurizers = self.config["featurizers"] or None
        dense_rows, sparse_rows = [], []
        for message in messages:
            _, dense = message.get_dense_features(TEXT, featurizers)
            _, sparse = message.get_sparse_features(TEXT, featurizers)
            dense_rows.append(dense.features.reshape(1, -1) if dense is not None else np.zeros((1, 0)))
            sparse_rows.append(scipy.sparse.csr_matrix(sparse.features) if sparse is not None
                               else scipy.sparse.csr_matrix((1, 0)))
        return np.vstack(dense_rows), scipy.sparse.vstack(sparse_rows).tocsr()

    def _features(self, messages: List[Message], tfidf: TfidfTransformer) -> scipy.sparse.csr_matrix:
        dense, counts = self._raw_features(messages)
        # The embedding featurizer scales its unit vectors for DIET; here every part is unit length first, then
        # weighted, so that neither the number of n-grams nor that scale decides which part the model hears.
        dense = normalize(dense) * self.config["embedding_scale"] if dense.shape[1] else dense
        grams = normalize(tfidf.transform(counts)) if counts.shape[1] else counts
        return scipy.sparse.hstack([scipy.sparse.csr_matrix(dense), grams]).tocsr()

    # --- training ---

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("No examples to train the answer classifier on.")
            return self._resource
        labels = [e.get(INTENT_RESPONSE_KEY) or e.get(INTENT) for e in examples]
        _, counts = self._raw_features(examples)
        tfidf = TfidfTransformer(sublinear_tf=True).fit(counts) if counts.shape[1] else TfidfTransformer()
        classifier = LogisticRegression(
            C=self.config["C"], max_iter=self.config["max_iter"], random_state=self.config["random_seed"]
        )
        classifier.fit(self._features(examples, tfidf), labels)
        self._model = {"classifier": classifier, "tfidf": tfidf,
                       "retrieval_intents": sorted({split_label(label)[0] for label in labels if "/" in label})}
        self.persist()
        return self._resource

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self._model, directory / "answer_classifier.skops")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "AnswerClassifier":
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / "answer_classifier.skops"
                model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        except ValueError:
            logger.debug("The answer classifier was not trained; it will predict nothing.")
            model = None
        return cls(config, model_storage, resource, model)

    # --- prediction ---

    def process(self, messages: List[Message]) -> List[Message]:
        if not self._model:
            return messages
        classifier = self._model["classifier"]
        probabilities = classifier.predict_proba(self._features(messages, self._model["tfidf"]))
        for message, row in zip(messages, probabilities):
            self._set_prediction(message, list(zip(classifier.classes_, row.tolist())))
        return messages

    def _set_prediction(self, message: Message, scored: List[Tuple[str, float]]) -> None:
        scored.sort(key=lambda item: -item[1])
        best_label, best = scored[0]
        # An intent is as likely as its likeliest answer: a question split between two FAQ answers is
        # uncertain, and the fallback must see that.
        by_intent: Dict[str, float] = {}
        for label, probability in scored:
            intent = split_label(label)[0]
            by_intent[intent] = max(by_intent.get(intent, 0.0), probability)
        ranking = [{"name": name, "confidence": confidence} for name, confidence in by_intent.items()]
        message.set(INTENT, {"name": split_label(best_label)[0], "confidence": best}, add_to_output=True)
        message.set("intent_ranking", ranking[: self.config["ranking_length"]], add_to_output=True)
        selector: Dict[str, Any] = {"all_retrieval_intents": self._model["retrieval_intents"]}
        for retrieval_intent in self._model["retrieval_intents"]:
            answers = [(label, p) for label, p in scored if split_label(label)[0] == retrieval_intent]
            top_label, top = answers[0]
            selector[retrieval_intent] = {
                "response": {
                    "responses": [],
                    "confidence": top,
                    "intent_response_key": top_label,
                    "utter_action": f"utter_{top_label}",
                },
                "ranking": [{"id": index, "confidence": p, "intent_response_key": label}
                            for index, (label, p) in enumerate(answers[: self.config["ranking_length"]])],
            }
        message.set(RESPONSE_SELECTOR, selector, add_to_output=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
