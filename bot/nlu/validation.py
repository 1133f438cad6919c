"""`rasa data validate --fail-on-warnings`, made usable for a project with forms and custom actions.

Rasa's validator warns that a response "is not used in any story or rule" when only a form
(utter_ask_<slot>) or a custom action sends it, and it cannot be told otherwise. This runs Rasa's
own validation, fails on every warning it raises (including ones `--fail-on-warnings` lets
through), and excuses only warnings that Rasa 3.6 raises whatever the project does:
- a response "not used in any story or rule" that a form or an action in actions/ provably sends;
- retrieval intents (faq, out_of_scope) reported as "duplicated": the story reader needs them in
  domain.yml, and Rasa then merges them in again from the NLU data;
- "Slot auto-fill has been removed in 3.0", raised for every domain that has slots.
"""
from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import Iterable, List, Set

from bot.settings import PROJECT_ROOT

UNUSED_RESPONSE = re.compile(r"The utterance '(?P<name>[\w/]+)' is not used in any story or rule\.")
RESPONSE_IN_CODE = re.compile(r"""response\s*=\s*["'](?P<name>utter_[\w/]+)["']|["'](?P<value>utter_[\w/]+)["']""")
DUPLICATED_INTENTS = re.compile(
    r"The following duplicated intents have been found across multiple domain files: (?P<names>[\w, ]+)"
)
ALWAYS_RAISED = "Slot auto-fill has been removed in 3.0"
# Rasa's own default actions send these (action_default_fallback, the form's slot requests).
SENT_BY_RASA = {"utter_default"}


def responses_sent_by_actions(action_files: Iterable[Path]) -> Set[str]:
    names: Set[str] = set()
    for path in action_files:
        for match in RESPONSE_IN_CODE.finditer(path.read_text()):
            names.add(match.group("name") or match.group("value"))
    return names


def responses_sent_by_forms(domain) -> Set[str]:
    names = set()
    for form, definition in domain.forms.items():
        for slot in definition.get("required_slots", []):
            names.update({f"utter_ask_{slot}", f"utter_ask_{form}_{slot}"})
    return names


def validate(root: Path = PROJECT_ROOT) -> List[str]:
    """Returns the problems found; an empty list means the project is valid."""
    import rasa.cli.utils
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_config(
        config_path=str(root / "config.yml"),
        domain_path=str(root / "domain.yml"),
        training_data_paths=[str(root / "data")],
    )
    problems: List[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            rasa.cli.utils.validate_files(fail_on_warnings=False, max_history=None, importer=importer)
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                problems.append("Rasa's validation reported errors (see above).")
        excused = responses_sent_by_forms(importer.get_domain()) | SENT_BY_RASA
        excused |= responses_sent_by_actions((root / "actions").glob("*.py"))
        retrieval_intents = set(importer.get_nlu_data().retrieval_intents)
    for warning in caught:
        if not issubclass(warning.category, UserWarning) or issubclass(warning.category, DeprecationWarning):
            continue
        if "site-packages/rasa" not in (warning.filename or "") and "rasa" not in type(warning.message).__module__:
            continue
        text = str(warning.message)
        if text.startswith(ALWAYS_RAISED):
            continue
        duplicated = DUPLICATED_INTENTS.search(text)
        if duplicated and {n.strip() for n in duplicated.group("names").split(",")} <= retrieval_intents:
            continue
        unused = UNUSED_RESPONSE.search(text)
        if unused and unused.group("name") in excused:
            continue
        problems.append(text)
    return problems


def main() -> int:
    problems = validate()
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if problems:
        print(f"Validation failed: {len(problems)} problem(s).", file=sys.stderr)
        return 1
    print("Validation passed: no warnings.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
