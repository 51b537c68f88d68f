"""The CLI, dying (as if SIGKILLed) the moment the broker has acknowledged its first reply:
after the reply is out, before the state that says so is stored. Without transactions the next
owner folds the pipeline's last events again and replies a second time; under exactly-once the
reply's transaction was never committed, so readers never see it, and the one they see is the
next owner's."""
from __future__ import annotations

import os
import sys
from typing import Any

from events.messages import PipelineFinished
from streams.cli import main
from streams.publisher import Publisher

_publish = Publisher.publish


async def _publish_then_die(self: Publisher, event: Any, partition: int) -> Any:
    sent = await _publish(self, event, partition)
    if isinstance(event, PipelineFinished):
        await sent
        print(f"reply for {event.pipeline_id} acknowledged: dying now", flush=True)
        os._exit(9)
    return sent


Publisher.publish = _publish_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
