"""The S3 server behind the durable local broker: `localbucket`, plus the conditional writes
Tansu relies on.

Tansu keeps its cluster metadata (producer ids, their sequence numbers, topics) in one object,
`meta.json`, and updates it read-modify-write with `If-Match: <etag>`, retrying when S3 answers
412. localbucket 1.2.1 honours only `If-None-Match: *` and ignores `If-Match`, so two concurrent
updates both "succeed" and one is lost: two producers started together are handed the same
producer id, the broker then takes the second one's first record for a duplicate of the first's
and drops it while acknowledging it (measured: 8 idempotent producers started at once, 1 to 4 of
their 8 records kept). Here every object write and read holds one lock, and a write whose
`If-Match` names another version than the stored one fails with 412 as on real S3.

Run as `python -m streams.brokers.bucket DATA_ROOT --host H --port P` (localbucket's own flags).
"""
from __future__ import annotations

import threading
from http import HTTPStatus
from typing import Any

import localbucket

# One lock for the whole store: a check of the stored version and the write that depends on it
# must not interleave with another write (or with a read pairing content and ETag).
_store_lock = threading.Lock()


class ConditionalS3Handler(localbucket.S3Handler):
    def _write_object(self, bucket: str, key: str, write: Any) -> str:
        with _store_lock:
            expected = self.headers.get("If-Match")
            if expected is not None:
                target = self._object_path(bucket, key)
                if not target.is_file():
                    raise localbucket.S3Error(
                        HTTPStatus.NOT_FOUND, "NoSuchKey", "The specified key does not exist."
                    )
                if not localbucket.etag_matches(expected, localbucket.object_etag(target)):
                    raise self._precondition_failed_error()
            return str(super()._write_object(bucket, key, write))

    def _get(self, bucket: str, key: str, include_body: bool) -> None:
        # localbucket opens the file, then hashes the path for the ETag: a write in between would
        # pair the old content with the new version's ETag, and a later If-Match would pass.
        with _store_lock:
            super()._get(bucket, key, include_body)


def main() -> None:
    localbucket.S3Handler = ConditionalS3Handler  # type: ignore[misc]  # main() serves this class
    localbucket.main()


if __name__ == "__main__":
    main()
