"""A Rasa featurizer that adds an all-mpnet-base-v2 sentence embedding to each message.

Words alone cannot tell "is restorative justice safe?" from "what is restorative justice?", or "what
rhymes with orange?" from a question about the service; a sentence-embedding model trained on a billion
sentence pairs can. Rasa 3.6's own LanguageModelFeaturizer gives BERT-style models' [CLS] token as the
sentence vector, but all-mpnet-base-v2 was trained with mean pooling, so this featurizer pools the way
the model was trained. The model's files are installed with the other packages (bot/nlu/sentence_model.py)
and run by TensorFlow, already Rasa's: nothing is downloaded at run time and no second deep-learning
framework is loaded.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import sentence_model

# The model was trained on up to 384 word pieces; questions are far shorter, and a long message loses nothing
# a topic depends on in its first 128.
MAX_WORD_PIECES = 128
BATCH_SIZE = 64


class SentenceEncoder:
    """The sentence model in TensorFlow: texts in, unit-length vectors out (768 elements for all-mpnet-base-v2)."""

    def __init__(self, directory: Optional[Path] = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoTokenizer, TFAutoModel
        from transformers.utils import logging as transformers_logging

        # Loading PyTorch weights into TensorFlow warns that the pooler is unused: this model never uses it.
        transformers_logging.set_verbosity_error()
        directory = directory or sentence_model.model_directory()
        self._tokenizer = AutoTokenizer.from_pretrained(directory)
        import tensorflow as tf

        model = TFAutoModel.from_pretrained(directory)
        self.dimension = int(model.config.hidden_size)
        # MPNet takes no token type ids, BERT-style models do: feed whichever inputs the tokenizer makes.
        self._input_names = list(self._tokenizer.model_input_names)
        word_pieces = tf.TensorSpec([None, None], tf.int32)

        # One traced graph for every batch shape: run eagerly, the model costs about 60 ms per message
        # instead of about 10.
        @tf.function(input_signature=[word_pieces] * len(self._input_names))
        def last_hidden_state(*inputs):
            return model(**dict(zip(self._input_names, inputs)), training=False).last_hidden_state

        self._last_hidden_state = last_hidden_state

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def shared() -> "SentenceEncoder":
        """One loaded model per process: each cross-validation fold and test would otherwise load 440 MB again."""
        return SentenceEncoder()

    def encode(self, texts: List[Text]) -> np.ndarray:
        # Batches of texts of similar length waste less work on padding: 40 % faster on the training data.
        order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            vectors[batch] = self._encode_batch([texts[index] for index in batch])
        return vectors

    def _encode_batch(self, texts: List[Text]) -> np.ndarray:
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_WORD_PIECES, return_tensors="np")
        hidden = self._last_hidden_state(
            *(batch[name].astype(np.int32) for name in self._input_names)
        ).numpy()
        mask = batch["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one dense sentence feature to the text of every message."""

    @staticmethod
    def required_packages() -> List[Text]:
        return ["transformers"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return DenseFeaturizer.get_default_config()

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self._encoder = SentenceEncoder.shared()
        # A unit vector's elements are of the order of 1/sqrt(dimension), while the count features beside it
        # are of the order of 1: unscaled, the classifiers fit the counts first and hardly use the embedding
        # (FAQ answers in 5-fold cross-validation with the smaller all-MiniLM-L6-v2: 0.79 unscaled, 0.89 scaled).
        self._scale = float(np.sqrt(self._encoder.dimension))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        vectors = self._encoder.encode([message.get(TEXT) for message in with_text]) * self._scale
        for message, vector in zip(with_text, vectors):
            message.add_features(
                Features(vector[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
