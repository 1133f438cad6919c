"""The shared evaluation sets stay an honest estimate: none of their sentences is in the training data or the
test stories (../shared/eval, written outside the team; see bench/evaluation)."""
from __future__ import annotations

import bisect
import difflib
import re
from typing import Iterator, List, Tuple

import pytest
import yaml

from bot.settings import PROJECT_ROOT

EVAL_DIR = PROJECT_ROOT.parent / "shared" / "eval"
# Exact copies of three words or more are refused; longer sentences also when they differ only a little
# (a changed word or two). Two-word replies such as "hiya" or "no thanks" are everyone's words.
MIN_WORDS_EXACT = 3
MIN_WORDS_NEAR = 6
NEAR = 0.9


def normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "").replace("'", "")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9£%@]+", " ", text)).strip()


def evaluation_sentences() -> List[str]:
    sentences = []
    for question in yaml.safe_load((EVAL_DIR / "questions.yml").read_text(encoding="utf-8")):
        sentences.append(question["text"])
    for persona in yaml.safe_load((EVAL_DIR / "callers.yml").read_text(encoding="utf-8")):
        sentences.append(persona["opening"])
        for answer in persona["answers"].values():
            sentences.extend(str(a) for a in (answer if isinstance(answer, list) else [answer]))
        sentences.extend(event["say"] for event in persona.get("events") or [])
    return [normalise(s) for s in sentences if len(normalise(s).split()) >= MIN_WORDS_EXACT]


def project_sentences() -> Iterator[Tuple[str, str]]:
    """Every training example, user message of the test stories and held-out question, with its file."""
    paths = (sorted((PROJECT_ROOT / "data").rglob("*.yml")) + sorted((PROJECT_ROOT / "tests").glob("*.yml"))
             + sorted((PROJECT_ROOT / "bench" / "heldout").glob("*.yml")))
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = (re.search(r"\btext: \"([^\"]+)\"", line) or re.search(r"\b(?:opening|say): \"([^\"]+)\"", line)
                     or re.match(r"\s*(?:- |user: \|?\s*|- user: )(.+)$", line))
            if match:
                text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1)).strip().strip('"')
                yield str(path.relative_to(PROJECT_ROOT)), text


def copies(sentences: List[str]) -> List[str]:
    found = []
    exact = set(sentences)
    by_length = sorted(sentences, key=len)
    lengths = [len(s) for s in by_length]
    # Two strings can only reach a similarity ratio of NEAR if the shorter is at least NEAR / (2 - NEAR) of the
    # longer, so only sentences of about the same length are compared.
    shortest = NEAR / (2 - NEAR)
    for source, text in project_sentences():
        plain = normalise(text)
        words = len(plain.split())
        if words >= MIN_WORDS_EXACT and plain in exact:
            found.append(f"{source}: {text!r}")
        elif words >= MIN_WORDS_NEAR:
            alike = by_length[bisect.bisect_left(lengths, len(plain) * shortest):
                              bisect.bisect_right(lengths, len(plain) / shortest)]
            if difflib.get_close_matches(plain, alike, n=1, cutoff=NEAR):
                found.append(f"{source}: {text!r} (nearly)")
    return found


@pytest.mark.skipif(not EVAL_DIR.exists(), reason="../shared/eval is not beside the project")
def test_no_evaluation_sentence_is_in_the_training_data_or_the_test_stories():
    found = copies(evaluation_sentences())
    assert not found, "sentences of the shared evaluation sets:\n" + "\n".join(found)


def test_the_check_finds_a_copy_and_a_near_copy(tmp_path):
    sentences = [normalise("Is the agreement at the end legally binding?")]
    assert normalise("is the agreement at the end legally binding") in sentences
    assert difflib.SequenceMatcher(None, normalise("is the agreement at the end legaly binding"),
                                   sentences[0]).ratio() >= NEAR
