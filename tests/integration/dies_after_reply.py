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

_publish_all = Publisher.publish_all


async def _publish_all_then_die(self: Publisher, decided: list[tuple[Any, int]]) -> list[Any]:
    sent = await _publish_all(self, decided)
    replies = [event for event, _ in decided if isinstance(event, PipelineFinished)]
    if replies:
        for future in sent:
            await future
        print(f"reply for {replies[0].pipeline_id} acknowledged: dying now", flush=True)
        os._exit(9)
    return sent


Publisher.publish_all = _publish_all_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
