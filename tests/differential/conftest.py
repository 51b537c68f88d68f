"""Differential tests: compare kafka-tasks with the seed engine (statefun-tasks 0.9.93) as an oracle."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SEED_DIR = Path(__file__).resolve().parent / "seed"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "differential: runs pipelines through the seed engine oracle "
        "(first use builds .seed-venv from PyPI; deselect with -m 'not differential')")


def _load_seed_client():
    # by path, because tests/ is not a package and "client" is too generic a top-level name
    spec = importlib.util.spec_from_file_location("_seed_client", SEED_DIR / "client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def seed_engine():
    """One long-lived seed driver process shared by the whole session."""
    engine = _load_seed_client().SeedEngine()
    engine.start()
    yield engine
    engine.close()
