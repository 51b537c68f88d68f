"""Random ids (streams/ids.py): version 4 UUIDs, written as uuid writes them."""
from __future__ import annotations

import uuid

from streams.ids import new_id


def test_ids_are_random_version_4_uuids_in_uuids_own_spelling():
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:1_000]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    # Every other bit varies: each hex digit outside the version and variant takes many values.
    for position in (0, 9, 15, 20, 35):
        assert len({text[position] for text in ids}) == 16
