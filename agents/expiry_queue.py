"""The finished pipelines of a replica's partitions, oldest finish first, kept on disk.

The retention (agents/orchestrator.py) removes a finished pipeline from the table once it finished
`finished_retention_s` ago, so it needs them oldest first, each once, at the time it last finished.
A dict of them cost about 200 bytes of memory a pipeline for as long as the retention keeps it:
at the default 24 h and 100 pipelines a second, 8.6 million of them. This keeps them in a RocksDB
database of its own, beside the table's, two records a pipeline:

    b"k" + key                    -> when it finished (8 bytes) + its status (FAILED, ...)
    b"t" + when (8 bytes) + key   -> b""          (big-endian: the keys sort in time order)

and counts them by status in memory. It is derived from the table, never read after a restart:
emptied when partitions move, and filled again from the table's states.

It costs CPU instead: 200,000 pipelines queued at 5-10 µs each and expired at 13 µs each (a
check and a discard), against about 1 µs for the dict. Expired records linger as tombstones
until RocksDB compacts them: a check of the queue, empty after those 200,000, took 4.9 ms.
"""
from __future__ import annotations

import shutil
import struct
from collections import Counter
from pathlib import Path

from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

_WHEN = struct.Struct(">d")  # a positive float's big-endian bytes sort as the float does
_BY_KEY, _BY_TIME = b"k", b"t"
BLOCK_CACHE_BYTES = 1024**2


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    # Small: records come and go in time order, and the ones read are the oldest.
    options.set_write_buffer_size(1024**2)
    options.set_max_write_buffer_number(2)
    # RocksDB's default block cache is 32 MB, and every store of a running pipeline looks its key
    # up (`discard`): random keys filled it by about 150 bytes a pipeline until full, most of what
    # the orchestrator still grew by in bench/soak.py. At 1 MB a lookup costs about 1 µs more.
    table = BlockBasedOptions()
    table.set_block_cache(Cache(BLOCK_CACHE_BYTES))
    options.set_block_based_table_factory(table)
    return options


class ExpiryQueue:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._counts: Counter[str] = Counter()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # RocksDB's lock first: a second replica given this state directory must not wipe it
            Rdict(str(path), _options()).close()
        except Exception as error:
            if "lock" not in str(error).lower():
                raise
            raise RuntimeError(
                f"{path} is in use by another process: give each orchestrator replica its own --state-dir"
            ) from error
        shutil.rmtree(path, ignore_errors=True)  # a previous run's: derived, and possibly stale
        self._db = Rdict(str(path), _options())

    def put(self, key: bytes, finished_at: float, status: str) -> None:
        """`key` finished at `finished_at`: its one entry, in place of any earlier one."""
        self._write(key, finished_at, status, replace=True)

    def put_if_absent(self, key: bytes, finished_at: float, status: str) -> None:
        """As `put`, unless `key` has an entry (one made since the table was read is newer)."""
        self._write(key, finished_at, status, replace=False)

    def discard(self, key: bytes) -> None:
        """`key` runs again, or has left the table."""
        old = self._db.get(_BY_KEY + key)
        if old is None:
            return
        batch = WriteBatch(raw_mode=True)
        batch.delete(_BY_KEY + key)
        batch.delete(_BY_TIME + old[:_WHEN.size] + key)
        self._db.write(batch)
        self._uncount(old)

    def due(self, cutoff: float) -> list[bytes]:
        """The keys that finished at or before `cutoff`, oldest first (they stay until discarded)."""
        found = []
        entries = self._db.iter()
        try:
            entries.seek(_BY_TIME)
            while entries.valid():
                entry = entries.key()
                if not entry.startswith(_BY_TIME) or _WHEN.unpack_from(entry, 1)[0] > cutoff:
                    break
                found.append(entry[1 + _WHEN.size:])
                entries.next()
        finally:
            del entries  # an open iterator pins the database
        return found

    def counts(self) -> Counter[str]:
        """Finished pipelines by status."""
        return +self._counts

    def __len__(self) -> int:
        return sum(self._counts.values())

    def clear(self) -> None:
        self._db.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self._db = Rdict(str(self.path), _options())
        self._counts.clear()

    def close(self) -> None:
        self._db.close()

    def _write(self, key: bytes, finished_at: float, status: str, replace: bool) -> None:
        old = self._db.get(_BY_KEY + key)
        if old is not None and not replace:
            return
        when = _WHEN.pack(finished_at)
        batch = WriteBatch(raw_mode=True)
        if old is not None:
            batch.delete(_BY_TIME + old[:_WHEN.size] + key)
        batch.put(_BY_KEY + key, when + status.encode())
        batch.put(_BY_TIME + when + key, b"")
        self._db.write(batch)
        if old is not None:
            self._uncount(old)
        self._counts[status] += 1

    def _uncount(self, entry: bytes) -> None:
        self._counts[entry[_WHEN.size:].decode()] -= 1
