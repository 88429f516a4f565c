"""The outage queue on disk: an append-only local file of the writes waiting for the database.

While the database is unreachable (:mod:`rules.storage.resilient`), each write
the bot queues is also appended here, and the caller goes on only once it is on
disk (``fsync``): a decision is durable before it is carried out even during an
outage. When a queued write lands in the database an acknowledgement is
appended; once the whole queue has landed the file is removed. After a crash
or a stop during an outage, the next start reads the file and replays what was
never acknowledged, in order, before anything else is written.

Format: records of ``length (4 bytes) | crc32 (4 bytes) | pickle``; a record is
either a write ``("w", seq, name, args, provisional)`` or an acknowledgement
``("a", seq)`` (every write up to ``seq`` landed). A torn last record (a crash
mid-append) was never acknowledged to its caller, so nothing was done for it:
it is dropped. Pickle is safe here: the file is written and read by this
program only, on the bot's own disk (never from the network).

The file is locked while open (``flock``): a second process pointed at the
same path fails at its first outage with an error naming the file, instead of
both appending to it. Appends and acknowledgements go to a worker thread and
are group-committed (one ``fsync`` for all the writes queued meanwhile).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pickle
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules.core.batching import Batcher

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")  # length, crc32


@dataclass(frozen=True, slots=True)
class SpooledWrite:
    """A queued write as the spool keeps it: what to call again, with what."""

    seq: int
    name: str
    args: tuple[Any, ...]
    provisional: int | None = None


class SpoolError(RuntimeError):
    """The spool cannot be used (locked by another process, or not writable)."""


class Spool:
    """An append-only file of queued writes (see module doc). Opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="groupguard-spool")
        self._appends: Batcher[_Record, None] = Batcher(self._append_batch, max_size=500)
        self._written = 0  # highest write seq in the file (worker thread)
        self._acked = 0  # highest acknowledged seq in the file (worker thread)

    # -- reading at start -------------------------------------------------------

    def load(self) -> list[SpooledWrite]:
        """The writes never acknowledged, in order (empty when there is no file)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        writes: dict[int, SpooledWrite] = {}
        acked = 0
        at = 0
        while at < len(data):
            length, crc = (
                _HEADER.unpack_from(data, at) if at + _HEADER.size <= len(data) else (1, 0)
            )
            body = data[at + _HEADER.size : at + _HEADER.size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                log.warning(
                    "outage spool %s: a torn record at byte %d dropped (a crash mid-write; "
                    "nothing was done for it)",
                    self.path,
                    at,
                )
                os.truncate(self.path, at)  # later appends must follow the last whole record
                break
            record = pickle.loads(body)
            if record[0] == "w":
                _, seq, name, args, provisional = record
                writes[seq] = SpooledWrite(seq, name, tuple(args), provisional)
            elif record[0] == "a":
                acked = max(acked, int(record[1]))
            at += _HEADER.size + length
        self._written, self._acked = max(writes, default=0), acked
        return [w for seq, w in sorted(writes.items()) if seq > acked]

    @property
    def last_seq(self) -> int:
        """The highest write seq in the file when it was loaded (new writes go above it)."""
        return self._written

    # -- writing ----------------------------------------------------------------

    async def append(self, write: SpooledWrite) -> None:
        """Append a write; returns once it is on disk."""
        record = ("w", write.seq, write.name, write.args, write.provisional)
        await self._appends.submit(_Record(write.seq, False, _frame(record)))

    async def acknowledge(self, seq: int) -> None:
        """Every write up to ``seq`` landed in the database; returns once that is on disk."""
        await self._appends.submit(_Record(seq, True, _frame(("a", seq))))

    async def clear(self) -> None:
        """Remove the file if every write in it was acknowledged (a new outage makes a new one)."""
        await self._appends.flush()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._remove)

    async def close(self) -> None:
        """Land pending appends and close the file (kept if it holds unacknowledged writes)."""
        await self._appends.flush()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=False)

    def _open(self) -> int:
        if self._fd is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise SpoolError(f"outage spool {self.path} cannot be written: {exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise SpoolError(
                    f"outage spool {self.path} is in use by another process; give each "
                    "process its own [database] outage_spool"
                ) from None
            self._fd = fd
        return self._fd

    async def _append_batch(self, records: list[_Record]) -> list[None]:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._write, records)
        return [None] * len(records)

    def _write(self, records: list[_Record]) -> None:
        fd = self._open()
        data = memoryview(b"".join(r.frame for r in records))
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
        for record in records:
            if record.ack:
                self._acked = max(self._acked, record.seq)
            else:
                self._written = max(self._written, record.seq)

    def _remove(self) -> None:
        if self._written > self._acked:
            return  # a new outage began meanwhile: its writes stay
        self._close()
        self.path.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


@dataclass(frozen=True, slots=True)
class _Record:
    seq: int
    ack: bool
    frame: bytes


def _frame(record: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body), zlib.crc32(body)) + body
