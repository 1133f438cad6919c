"""The README and bench/README.md name only files that exist and make targets that exist."""
from __future__ import annotations

import re

import pytest

from bot.settings import PROJECT_ROOT

DOCS = ["README.md", "bench/README.md"]
# Paths beside the project or created by a run, named on purpose.
NOT_IN_THE_REPOSITORY = ("../shared", ".venv", "models/", "var/", "bench/work", "bench/.venv", "results/")
PATH = re.compile(r"`((?:\.\./)?[\w.-]+(?:/[\w.*-]+)+/?)`")
TARGETS = set(re.findall(r"^([a-z][\w-]*):", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE))


def named_paths(doc: str):
    """Backticked paths whose first folder is one of the project's (labels such as `faq/cost` are not paths)."""
    text = (PROJECT_ROOT / doc).read_text(encoding="utf-8")
    roots = (PROJECT_ROOT, (PROJECT_ROOT / doc).parent)
    for path in PATH.findall(text):
        if path.startswith(NOT_IN_THE_REPOSITORY) or "<" in path:
            continue
        if any((root / path.split("/")[0]).is_dir() for root in roots):
            yield path


@pytest.mark.parametrize("doc", DOCS)
def test_every_file_named_exists(doc):
    base = PROJECT_ROOT / doc
    missing = [p for p in named_paths(doc)
               if not any((root / p).exists() or list(root.glob(p)) for root in (PROJECT_ROOT, base.parent))]
    assert not missing, f"{doc} names files that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_make_target_named_exists(doc):
    named = set(re.findall(r"`make ([a-z][\w-]*)", (PROJECT_ROOT / doc).read_text(encoding="utf-8")))
    named |= set(re.findall(r"^make ([a-z][\w-]*)", (PROJECT_ROOT / doc).read_text(encoding="utf-8"), re.MULTILINE))
    assert named, f"{doc} names no make target"
    assert named <= TARGETS, f"{doc} names make targets that do not exist: {sorted(named - TARGETS)}"


def test_every_module_in_the_readme_tree_exists():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    tree = text[text.index("```\nbot/\n"):]
    tree = tree[:tree.index("\nactions/")]
    modules = set(re.findall(r"^\s+([\w, .]+\.py)\b", tree, re.MULTILINE))
    names = {name.strip() for entry in modules for name in entry.split(",")}
    assert len(names) > 20
    existing = {path.name for path in (PROJECT_ROOT / "bot").rglob("*.py")}
    assert names <= existing, f"the README's tree names modules that do not exist: {sorted(names - existing)}"
    undocumented = {n for n in existing - names if not n.startswith("__") and "migrations" not in n}
    undocumented -= {p.name for p in (PROJECT_ROOT / "bot" / "callbacks" / "migrations").rglob("*.py")}
    assert not undocumented, f"modules missing from the README's tree: {sorted(undocumented)}"
