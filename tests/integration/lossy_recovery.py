"""The CLI, with faust's changelog queue losing the first delivery of every changelog record.

faust clears that queue when it resumes its flow (`clear_on_resume`), so records fetched just
before are gone while the consumer's position has moved past them; table recovery then waits for
them forever. Here every record is lost the first time it arrives, so recovery completes only if
the orchestrator notices the silence and reads the partition again (agents/recovery.py).
"""
from __future__ import annotations

import sys
from typing import Any

from mode.utils.queues import FlowControlQueue

from streams.cli import main

_delivered_once: set[tuple[str, int, int]] = set()
_put = FlowControlQueue.put_nowait_enhanced


def _lose_first_delivery(self: Any, value: Any, **callbacks: Any) -> bool:
    message = getattr(value, "message", None)
    if message is not None and message.topic.endswith("-changelog"):
        place = (message.topic, message.partition, message.offset)
        if place not in _delivered_once:
            _delivered_once.add(place)
            return False
    return _put(self, value, **callbacks)


FlowControlQueue.put_nowait_enhanced = _lose_first_delivery  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
