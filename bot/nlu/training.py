"""Train the Rasa model only when its inputs changed.

The model file is named after a hash of everything that goes into training, so an unchanged
project reuses models/<hash>.tar.gz at once instead of spending a minute or two in `rasa train`.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Optional

from bot.settings import PROJECT_ROOT

# The custom components' code shapes the model as much as config.yml does.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "bot/nlu/sentence_featurizer.py", "bot/nlu/sentence_model.py",
                   "bot/nlu/answer_classifier.py", "bot/nlu/callback_cue.py", "bot/nlu/danger.py",
                   "bot/nlu/danger_net.py", "bot/nlu/intent_override.py")


def _input_files(root: Path) -> Iterable[Path]:
    for name in TRAINING_INPUTS:
        path = root / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml"})
        elif path.is_file():
            yield path


def fingerprint(root: Path = PROJECT_ROOT) -> str:
    import rasa

    digest = hashlib.sha256(f"rasa {rasa.__version__}\n".encode())
    for path in _input_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = PROJECT_ROOT, models_dir: Optional[Path] = None) -> Path:
    return (models_dir or root / "models") / f"{fingerprint(root)}.tar.gz"


def rasa_executable() -> str:
    return str(Path(sys.executable).with_name("rasa"))


def ensure_model(root: Path = PROJECT_ROOT, models_dir: Optional[Path] = None, force: bool = False) -> Path:
    """Returns the trained model for the current inputs, training it first if there is none."""
    target = model_path(root, models_dir)
    if target.exists() and not force:
        print(f"Using the trained model {target.relative_to(root) if target.is_relative_to(root) else target}"
              " (training data unchanged)", flush=True)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print("Training the model (the training data changed; this takes a few minutes)", flush=True)
    subprocess.run(
        [rasa_executable(), "train", "--out", str(target.parent), "--fixed-model-name", target.name[: -len(".tar.gz")]],
        cwd=root,
        check=True,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    return target


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description="Train the model if the training data changed.")
    parser.add_argument("--force", action="store_true", help="train even if a model for this data exists")
    args = parser.parse_args(argv)
    try:
        print(ensure_model(force=args.force))
    except subprocess.CalledProcessError as error:
        print(f"Training failed (exit code {error.returncode}); see the messages above.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
