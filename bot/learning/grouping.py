"""Groups the kept questions by meaning, with the sentence embedding the assistant's NLU already uses.

Run as its own short process (`python -m bot.learning.grouping`, `rg-staff group`, or started by the web app
when new questions are waiting) because the encoder takes most of a gigabyte: the web app stays small and the
memory is given back as soon as the grouping is saved.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Callable, Dict, List, Sequence

import numpy as np

from bot.callbacks.store import CallbackStore, StoreUnavailable
from bot.learning.records import LearningRecords
from bot.settings import SettingsError, load_settings

log = logging.getLogger(__name__)

# Average-linkage cosine distance under which questions share a group. With all-mpnet-base-v2, rewordings of one
# question sit about 0.3-0.55 apart ("is there a fee" / "how much does it cost": 0.56), different questions on
# one topic 0.6 and beyond ("can my mum come" / "can someone come with me": 0.61). Too tight only splits a group.
DISTANCE_THRESHOLD = 0.55

# Loading the encoder takes 10-20 s on a small server; a run that takes minutes is stuck.
GROUPING_TIMEOUT_S = 300.0
# How often the website app looks for new questions to group.
GROUPING_EVERY_S = 60 * 60

Encode = Callable[[List[str]], np.ndarray]


def cluster(ids: Sequence[int], vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> Dict[int, int]:
    """Question id -> group id, the smallest question id in its group (so groups keep their ids as they grow)."""
    if len(ids) == 0:
        return {}
    if len(ids) == 1:
        return {ids[0]: ids[0]}
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=threshold, affinity="cosine", linkage="average"
    ).fit_predict(vectors)
    first: Dict[int, int] = {}
    for question_id, label in zip(ids, labels):
        first[label] = min(first.get(label, question_id), question_id)
    return {question_id: first[label] for question_id, label in zip(ids, labels)}


def regroup(records: LearningRecords, encode: Encode) -> int:
    """Groups every kept question again (new ones may join or bridge old groups); returns how many groups."""
    questions = records.questions()
    if not questions:
        return 0
    groups = cluster([q.id for q in questions], encode([q.text for q in questions]))
    records.set_groups(groups)
    return len(set(groups.values()))


def sentence_encoder() -> Encode:
    from bot.nlu.sentence_featurizer import SentenceEncoder

    return SentenceEncoder.shared().encode


async def group_in_own_process(database_url: str, timeout_s: float = GROUPING_TIMEOUT_S) -> bool:
    """Runs `python -m bot.learning.grouping` on this database; True if it grouped.

    The process gets this app's database explicitly: an app started with settings of its own (not from the
    environment) must not group another database. It is stopped on a timeout, and when the caller is cancelled.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.learning.grouping",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "RG_DATABASE_URL": database_url},
    )
    try:
        _, errors = await asyncio.wait_for(process.communicate(), timeout_s)
    except (asyncio.TimeoutError, asyncio.CancelledError) as stopped:
        process.kill()
        await process.wait()
        if isinstance(stopped, asyncio.CancelledError):
            raise
        log.error("Grouping the unanswered questions took longer than %.0f s and was stopped", timeout_s)
        return False
    if process.returncode != 0:
        # Its last line says why (a database that is not ready, say); it never holds a question's text.
        reason = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no reason given"]
        log.error("Grouping the unanswered questions failed (exit %s): %s", process.returncode, reason[0][:200])
        return False
    return True


async def run_grouping_worker(records: LearningRecords, database_url: str, every_s: float) -> None:
    """Every every_s, groups the kept questions if new ones are waiting, until cancelled."""
    while True:
        try:
            if await asyncio.to_thread(records.ungrouped_count):
                await group_in_own_process(database_url)
        except Exception as exc:  # noqa: BLE001  (the loop must outlive a database outage)
            log.error("Grouping run failed (%s)", type(exc).__name__)
        await asyncio.sleep(every_s)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.learning.grouping", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        records = LearningRecords(CallbackStore.from_settings(settings), settings.learning_days)
        groups = regroup(records, sentence_encoder())
    except (SettingsError, StoreUnavailable) as exc:
        print(f"Could not group the questions: {exc}", file=sys.stderr)
        return 3
    print(f"{groups} group(s) of unanswered questions.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
