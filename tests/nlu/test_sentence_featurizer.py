"""The sentence-embedding featurizer on the real all-mpnet-base-v2 model installed by scripts/bootstrap.sh."""
from __future__ import annotations

import numpy as np
import pytest
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_featurizer import MAX_WORD_PIECES, SentenceEmbeddingFeaturizer, SentenceEncoder

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.shared()


@pytest.fixture(scope="module")
def featurizer() -> SentenceEmbeddingFeaturizer:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), FEATURIZER_CLASS_ALIAS: "sentence_embedding"}
    return SentenceEmbeddingFeaturizer(config, "sentence_embedding")


WIDTH = 768


def test_vectors_are_unit_length_and_768_wide(encoder):
    vectors = encoder.encode(["what is restorative justice?", "is it free", "x"])
    assert vectors.shape == (3, WIDTH)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_paraphrases_are_closer_than_other_topics(encoder):
    cost, paraphrase, other = encoder.encode(
        ["does it cost anything to take part", "do I have to pay for this", "what rhymes with orange"]
    )
    assert cost @ paraphrase > cost @ other + 0.2


def test_a_message_gets_the_same_vector_alone_as_in_a_padded_batch(encoder):
    short = "hi"
    batch = encoder.encode([short, "I was burgled last year and I still cannot sleep, would meeting him help me?"])
    np.testing.assert_allclose(encoder.encode([short])[0], batch[0], atol=1e-5)


def test_batches_larger_than_one_step_keep_their_order(encoder):
    texts = [f"question number {n} about restorative justice" for n in range(150)]
    together = encoder.encode(texts)
    assert together.shape == (150, WIDTH)
    np.testing.assert_allclose(together[149], encoder.encode([texts[149]])[0], atol=1e-5)


def test_no_texts_give_an_empty_matrix(encoder):
    assert encoder.encode([]).shape == (0, WIDTH)


def test_a_very_long_message_is_truncated_not_refused(encoder):
    long_message = "please help me " * (MAX_WORD_PIECES * 4)
    vector = encoder.encode([long_message])[0]
    assert np.isfinite(vector).all()
    np.testing.assert_allclose(np.linalg.norm(vector), 1.0, rtol=1e-5)


def test_every_message_with_text_gets_one_dense_sentence_feature(featurizer):
    asked = Message(data={TEXT: "can I refer myself?"})
    without_text = Message(data={INTENT: "greet"})
    featurizer.process([asked, without_text])

    features = asked.features
    assert len(features) == 1
    assert features[0].type == FEATURE_TYPE_SENTENCE
    assert features[0].attribute == TEXT
    assert features[0].origin == "sentence_embedding"
    assert features[0].features.shape == (1, WIDTH)
    assert not features[0].is_sparse()
    # Scaled so that its elements weigh as much as the count features beside them.
    np.testing.assert_allclose(np.linalg.norm(features[0].features), np.sqrt(WIDTH), rtol=1e-5)
    assert not any(feature.type == FEATURE_TYPE_SEQUENCE for feature in features)
    assert without_text.features == []


def test_featurizers_share_one_loaded_model(featurizer):
    another = SentenceEmbeddingFeaturizer(SentenceEmbeddingFeaturizer.get_default_config(), "another")
    assert another._encoder is featurizer._encoder


def test_without_an_alias_the_features_are_named_after_the_component():
    unnamed = SentenceEmbeddingFeaturizer(SentenceEmbeddingFeaturizer.get_default_config(), "run_featurizer_5")
    message = Message(data={TEXT: "hello"})
    unnamed.process([message])
    assert message.features[0].origin == "run_featurizer_5"


def test_training_examples_are_featurized_like_live_messages(featurizer):
    example = Message(data={TEXT: "who pays for it?", INTENT: "faq"})
    live = Message(data={TEXT: "who pays for it?"})
    featurizer.process_training_data(TrainingData([example]))
    featurizer.process([live])
    np.testing.assert_allclose(example.features[0].features, live.features[0].features, atol=1e-6)
