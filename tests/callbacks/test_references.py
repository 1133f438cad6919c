import re

import pytest

from bot.callbacks.references import (
    ALPHABET,
    ReferenceFormatError,
    is_reference,
    new_reference,
    normalise_reference,
)


def test_format():
    reference = new_reference()
    assert re.fullmatch(r"RG-[34679ACDEFGHJKMNPQRTUVWXY]{6}", reference)


def test_alphabet_has_no_confusable_characters():
    for confusable in "0O1IL5S2Z8B":
        assert confusable not in ALPHABET
    assert len(set(ALPHABET)) == len(ALPHABET)


def test_many_draws_are_unique_and_use_the_whole_alphabet():
    # 25**6 is about 244 million, so 5000 draws expect 0.05 collisions; allowing two keeps the test
    # meaningful without flaking (the store retries the rare collision anyway).
    draws = [new_reference() for _ in range(5000)]
    assert len(draws) - len(set(draws)) <= 2
    assert set("".join(d[3:] for d in draws)) == set(ALPHABET)


@pytest.mark.parametrize(
    "text",
    [
        "RG-K7M4QX",
        "rg-k7m4qx",
        "RGK7M4QX",
        "K7M4QX",
        "k7m4qx",
        " rg k7m 4qx ",
        "RG - K7M-4QX",
        "Rg_K7M4QX",
        "k7-m4-qx",
    ],
)
def test_normalisation(text):
    assert normalise_reference(text) == "RG-K7M4QX"


def test_body_starting_with_rg_is_kept():
    assert normalise_reference("RGA3C4") == "RG-RGA3C4"
    assert normalise_reference("RG-RGA3C4") == "RG-RGA3C4"


@pytest.mark.parametrize(
    "text",
    ["", "RG-", "RG-K7M4Q", "RG-K7M4QXX", "RG-K7M4Q0", "RG-K7M4QO", "RG-K7M4Q1", "RG-K7M4QS", "RG-K7M4Q!", "hello"],
)
def test_rejects_malformed(text):
    with pytest.raises(ReferenceFormatError):
        normalise_reference(text)
    assert not is_reference(text)


def test_rejects_non_text():
    with pytest.raises(ReferenceFormatError):
        normalise_reference(None)  # type: ignore[arg-type]
