"""streams/gc_settings.py: the orchestrator collects less often, but still collects."""
from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams import gc_settings


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_is_frozen_and_young_objects_are_collected_less_often() -> None:
    gc_settings.collect_less_once_started()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (gc_settings.YOUNG_THRESHOLD, gc_settings.MIDDLE_THRESHOLD, gc_settings.OLD_THRESHOLD)
    assert gc.isenabled()

