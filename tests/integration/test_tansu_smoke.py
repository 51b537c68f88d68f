"""The demo's default broker stays working: the README's demo command, end to end on Tansu."""
from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.kafka


def test_demo_runs_the_stocks_pipeline_on_the_local_broker() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo"], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "local broker (Tansu)" in completed.stdout
    assert "average std dev: 6.169" in completed.stdout
    assert "stopped the worker, the orchestrator and the broker" in completed.stdout
