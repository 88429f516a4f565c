"""The picture pool's workers run below the bot's priority, so text moderation keeps
its latency while pictures are read (``make bench-images`` measures it)."""

from __future__ import annotations

import os

from rules.moderation.pictures import WORKER_NICENESS, process_pool


def test_pool_workers_are_niced() -> None:
    pool = process_pool(1)()
    try:
        worker = pool.submit(os.nice, 0).result(timeout=60)
    finally:
        pool.shutdown()
    assert worker == min(19, os.nice(0) + WORKER_NICENESS)
