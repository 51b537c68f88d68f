"""The orchestrator's faust wiring, checked without a broker."""
from __future__ import annotations

from pathlib import Path

from agents.orchestrator import install_orchestrator
from streams.faust_app import make_faust_app
from streams.settings import Settings


def test_the_changelog_reads_what_the_table_writes(tmp_path: Path) -> None:
    # Regression: the table's serializers were set after faust had built its changelog topic, so
    # recovery decoded pickled records as JSON, dropped them all, and never finished.
    settings = Settings(app_id="wiring", bootstrap_servers="127.0.0.1:1", state_dir=tmp_path)
    app = make_faust_app(settings)
    install_orchestrator(app, settings)
    table = app.tables["pipelines"]
    schema = table.changelog_topic.schema
    assert (table.key_serializer, table.value_serializer) == ("raw", "pickle")
    assert (schema.key_serializer, schema.value_serializer) == ("raw", "pickle")
