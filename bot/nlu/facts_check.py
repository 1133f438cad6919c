"""Checks that every answer the assistant can give rests on the fact sheet and breaks none of its rules.

The fact sheet (shared/knowledge/facts.md, next to the project) is the only source of truth. Each response
variation carries `metadata.facts`: the fact IDs it rests on, or "seed" for the contact details printed in
the leaflet. The check functions below each return a list of problems (empty when all is well), so a test
can report every problem with the response it belongs to.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Set, Tuple

import yaml

from bot.settings import CONTACT_EMAIL, PROJECT_ROOT

SEED = "seed"
FACT_ID = re.compile(r"\*\*([SWEN]\d{2})\*\*")
RETRIEVAL_INTENTS = ("faq", "out_of_scope")
MAX_WORDS = 60  # answers are short: a person on a phone reads every word
WEBSITE = "restorativegloucestershire.co.uk"

# Every phone number an answer may give, digits only, with the fact that must be cited alongside it.
ALLOWED_NUMBERS: Dict[str, str] = {
    "999": "E01",
    "101": "E02",
    "18001101": "E02",
    "08081689111": "E03",
    "116123": "E04",
    "08082000247": "E05",
    "01452754542": SEED,
}

# A run of digits, possibly split by single spaces ("0808 2000 247"), possibly starting with "+".
_NUMBER = re.compile(r"(?<![\w£])\+?\d(?: ?\d)*(?![\d%])")
_YEAR = re.compile(r"(19|20)\d\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s)]+|\b[\w-]+(?:\.[\w-]+)*\.(?:co\.uk|org\.uk|gov\.uk|com|org|net|uk|io)\b[^\s)]*",
    re.IGNORECASE,
)

# Phrases that break a rule of the fact sheet (section 3). Negated forms are avoided too: a reader
# skimming "doesn't reduce your sentence" may only take in "reduce your sentence". The one exception is a
# guarantee: "a referral doesn't guarantee contact" is the fact sheet's own honest statement (W08).
FORBIDDEN: Tuple[Tuple[str, str], ...] = (
    (r"\bperpetrators?\b", "says 'perpetrator' (use 'person responsible')"),
    (r"(?<!n't )(?<!not )(?<!no )\bguarantee[sd]?\b", "talks of guarantees (N02, N03)"),
    (r"\bwill (?:call|ring|phone|contact) you\b", "promises a call (N06)"),
    (r"\bwe(?:'ll| will) (?:be in touch|get back to you)\b", "promises a reply (N06)"),
    (r"\bwithin (?:\w+ )?(?:working )?(?:minutes|hours|days|weeks)\b", "promises a response time (N06, N07)"),
    (r"\b(?:reduces?|shortens?|replaces?|cuts?) (?:your|his|her|their|the|a) sentence\b",
     "links restorative justice to a shorter sentence (N01)"),
    (r"\blighter sentence\b", "links restorative justice to a lighter sentence (N01)"),
    (r"\bcharges? (?:being |get |be )?dropped\b", "talks of charges being dropped (N01)"),
    (r"\bI(?:'m| am) (?:a )?(?:human|real person|person|facilitator)\b", "claims to be a person (N05)"),
)
_TWENTY_FOUR_SEVEN = re.compile(r"\b24\s*/\s*7\b")
TWENTY_FOUR_SEVEN_FACTS = {"E03", "E04", "E05"}  # only these services are stated to run round the clock


@dataclass(frozen=True)
class Variation:
    """One variation of one response, as the assistant would send it."""

    response: str
    index: int
    text: str
    metadata: Mapping
    buttons: Tuple[Tuple[str, str], ...] = ()
    source: str = ""

    @property
    def label(self) -> str:
        return f"{self.response}[{self.index}]"

    @property
    def facts(self) -> List[str]:
        facts = self.metadata.get("facts") if isinstance(self.metadata, Mapping) else None
        return [str(f) for f in facts] if isinstance(facts, list) else []

    @property
    def title(self) -> Optional[str]:
        return self.metadata.get("title") if isinstance(self.metadata, Mapping) else None

    @property
    def sub_intent(self) -> Optional[str]:
        """'faq/cost' for utter_faq/cost; None for responses that are not retrieval answers."""
        for intent in RETRIEVAL_INTENTS:
            prefix = f"utter_{intent}/"
            if self.response.startswith(prefix):
                return f"{intent}/{self.response[len(prefix):]}"
        return None

    @property
    def all_text(self) -> str:
        return " ".join([self.text, *(title for title, _ in self.buttons)])


def facts_path(env: Mapping[str, str] = os.environ) -> Path:
    override = env.get("RG_FACTS_PATH", "").strip()
    return Path(override) if override else PROJECT_ROOT.parent / "shared/knowledge/facts.md"


def load_fact_ids(path: Optional[Path] = None) -> Set[str]:
    return set(FACT_ID.findall((path or facts_path()).read_text(encoding="utf-8")))


def response_files(root: Path = PROJECT_ROOT) -> List[Path]:
    return [root / "domain.yml", *sorted((root / "data/responses").glob("*.yml"))]


def load_responses(root: Path = PROJECT_ROOT) -> List[Variation]:
    variations: List[Variation] = []
    for path in response_files(root):
        if not path.exists():
            continue
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, items in (document.get("responses") or {}).items():
            for index, item in enumerate(items or []):
                variations.append(
                    Variation(
                        response=name,
                        index=index,
                        text=item.get("text", ""),
                        metadata=item.get("metadata") or {},
                        buttons=tuple((b.get("title", ""), b.get("payload", "")) for b in item.get("buttons") or []),
                        source=str(path.relative_to(root)),
                    )
                )
    return variations


_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


def _plain(example: str) -> str:
    return _ANNOTATION.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), example).strip()


def load_examples(root: Path = PROJECT_ROOT) -> Dict[str, Set[str]]:
    """Training examples by intent; retrieval intents are keyed by their full name, e.g. 'faq/cost'."""
    examples: Dict[str, Set[str]] = {}
    for path in sorted((root / "data/nlu").glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu") or []:
            if "intent" not in item:
                continue
            raw = item.get("examples") or ""
            lines = raw.splitlines() if isinstance(raw, str) else [e.get("text", "") for e in raw]
            texts = {_plain(line.strip()[2:] if line.strip().startswith("- ") else line) for line in lines}
            examples.setdefault(item["intent"], set()).update(t for t in texts if t)
    return examples


def load_domain_intents(root: Path = PROJECT_ROOT) -> Set[str]:
    document = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    return {i if isinstance(i, str) else next(iter(i)) for i in document.get("intents") or []}


def titles(variations: Iterable[Variation]) -> Dict[str, str]:
    """Button-able titles mapped to the sub-intent whose answer they lead to."""
    return {v.title: v.sub_intent for v in variations if v.title and v.sub_intent}


def phone_numbers(text: str) -> List[str]:
    """Digit strings in the text that could be read as phone numbers (not years, percentages or sums)."""
    found = []
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) < 3 or (len(digits) == 4 and _YEAR.fullmatch(digits)):
            continue
        found.append(digits)
    return found


def emails(text: str) -> List[str]:
    return _EMAIL.findall(text)


def urls(text: str) -> List[str]:
    return _URL.findall(_EMAIL.sub(" ", text))


# --- checks: each returns a list of problems ---------------------------------------------------------


def check_cites_facts(v: Variation) -> List[str]:
    facts = v.metadata.get("facts") if isinstance(v.metadata, Mapping) else None
    if not isinstance(facts, list):
        return ["has no metadata.facts list"]
    return []


def check_fact_ids_exist(v: Variation, known: Set[str]) -> List[str]:
    return [f"cites {f!r}, which is not in the fact sheet" for f in v.facts if f != SEED and f not in known]


def check_factless_is_plain(v: Variation) -> List[str]:
    """A response that cites nothing must not carry anything that looks like a fact."""
    if v.facts:
        return []
    problems = []
    if re.search(r"\d", v.all_text):
        problems.append("cites no facts but contains digits")
    if emails(v.all_text):
        problems.append("cites no facts but contains an email address")
    if urls(v.all_text):
        problems.append("cites no facts but contains a web address")
    return problems


def check_phone_numbers(v: Variation) -> List[str]:
    problems = []
    for digits in phone_numbers(v.all_text):
        fact = ALLOWED_NUMBERS.get(digits)
        if fact is None:
            problems.append(f"gives the number {digits}, which is not an allowed number")
        elif fact not in v.facts:
            problems.append(f"gives the number {digits} without citing {fact}")
    return problems


def check_emails(v: Variation) -> List[str]:
    problems = [f"gives the email address {e}, not {CONTACT_EMAIL}" for e in emails(v.all_text) if e != CONTACT_EMAIL]
    if emails(v.all_text) and SEED not in v.facts:
        problems.append("gives the email address without citing 'seed'")
    return problems


def check_urls(v: Variation) -> List[str]:
    problems = []
    for url in urls(v.all_text):
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.lower()).split("/")[0].rstrip(".")
        if host != WEBSITE:
            problems.append(f"gives the web address {url}")
        elif SEED not in v.facts:
            problems.append("gives the website without citing 'seed'")
    return problems


def check_forbidden_phrases(v: Variation) -> List[str]:
    problems = [why for pattern, why in FORBIDDEN if re.search(pattern, v.all_text, re.IGNORECASE)]
    if _TWENTY_FOUR_SEVEN.search(v.all_text) and not TWENTY_FOUR_SEVEN_FACTS & set(v.facts):
        problems.append("says '24/7' without citing a service that runs round the clock (E03, E04, E05)")
    return problems


def check_length(v: Variation, limit: int = MAX_WORDS) -> List[str]:
    words = len(v.text.split())
    return [f"is {words} words long (limit {limit})"] if words > limit else []


def check_title(v: Variation, examples: Mapping[str, Set[str]]) -> List[str]:
    """Retrieval answers need a title, and the title must classify back to the same topic."""
    if v.sub_intent is None:
        return []
    if not v.title:
        return ["has no metadata.title"]
    if v.title not in examples.get(v.sub_intent, set()):
        return [f"title {v.title!r} is not a training example of {v.sub_intent}"]
    return []


def check_buttons(v: Variation, known_titles: Mapping[str, str], intents: Set[str]) -> List[str]:
    """Plain-text payloads must be another answer's title; '/intent' payloads must name a domain intent.

    Buttons on the callback form's questions (domain.yml) send free-text slot values, so only the
    answers in data/responses are held to the title rule.
    """
    problems = []
    if not v.source.startswith("data/responses"):
        return problems
    for title, payload in v.buttons:
        if payload.startswith("/"):
            intent = payload[1:].split("{")[0]
            if intent not in intents:
                problems.append(f"button {title!r} sends /{intent}, which is not an intent in domain.yml")
        elif payload not in known_titles:
            problems.append(f"button {title!r} sends {payload!r}, which is no answer's title")
        elif known_titles[payload] == v.sub_intent:
            problems.append(f"button {title!r} leads back to the same answer")
    return problems


def check_retrieval_coverage(variations: Iterable[Variation], examples: Mapping[str, Set[str]]) -> List[str]:
    """Every FAQ / out-of-scope topic with examples has an answer, and every answer has examples."""
    answered = {v.sub_intent for v in variations if v.sub_intent}
    trained = {i for i in examples if i.split("/")[0] in RETRIEVAL_INTENTS and "/" in i}
    return [f"{i} has training examples but no answer" for i in sorted(trained - answered)] + [
        f"{i} has an answer but no training examples" for i in sorted(answered - trained)
    ]


def check_variation(
    v: Variation, known: Set[str], examples: Mapping[str, Set[str]], known_titles: Mapping[str, str], intents: Set[str]
) -> List[str]:
    return [
        *check_cites_facts(v),
        *check_fact_ids_exist(v, known),
        *check_factless_is_plain(v),
        *check_phone_numbers(v),
        *check_emails(v),
        *check_urls(v),
        *check_forbidden_phrases(v),
        *check_length(v),
        *check_title(v, examples),
        *check_buttons(v, known_titles, intents),
    ]


def check_all(root: Path = PROJECT_ROOT, facts_file: Optional[Path] = None) -> List[str]:
    """Every problem in the project's responses, each prefixed with the response it belongs to."""
    variations = load_responses(root)
    known, examples = load_fact_ids(facts_file), load_examples(root)
    known_titles, intents = titles(variations), load_domain_intents(root)
    problems = check_retrieval_coverage(variations, examples)
    for v in variations:
        problems += [f"{v.label}: {p}" for p in check_variation(v, known, examples, known_titles, intents)]
    return problems
