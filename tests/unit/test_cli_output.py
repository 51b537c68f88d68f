"""What the CLI prints for people: `submit --wait`'s progress bar (streams/progress.py) and
`status`'s table and tree (streams/status_report.py)."""
from __future__ import annotations

import io

from events.messages import TaskStatusChanged
from streams import KafkaTasks, in_parallel
from streams.progress import Progress
from streams.status_report import pipeline_tree, pipelines_table

tasks = KafkaTasks(app_id="cli-output")


@tasks.bind()
def work(x: int) -> int:
    return x


def changed(pipeline_id: str, uid: str, status: str) -> TaskStatusChanged:
    return TaskStatusChanged(pipeline_id, 1, uid, "work", 0, status)


def test_the_progress_bar_counts_each_task_of_its_pipeline_once_when_it_ends():
    pipeline = in_parallel([work.send(i) for i in range(4)], num_stages=2)  # a builtin flatten is not counted
    out = io.StringIO()
    progress = Progress(pipeline.id, pipeline.to_spec(), out)
    progress.interactive = True
    assert progress.total == 4
    progress.on_task(changed(pipeline.id, "a", "REQUESTED"))  # not an end
    progress.on_task(changed(pipeline.id, "a", "SUCCEEDED"))
    progress.on_task(changed(pipeline.id, "a", "SUCCEEDED"))  # redelivered
    progress.on_task(changed("another", "b", "SUCCEEDED"))
    progress.on_task(changed(pipeline.id, "c", "FAILED"))
    assert progress.line() == f"[{'#' * 15}{'.' * 15}] 2/4 tasks, 1 failed"
    progress.finish()
    assert out.getvalue().endswith("2/4 tasks, 1 failed\n") and out.getvalue().startswith("\r[")


def test_the_status_table_lines_up_its_columns():
    table = pipelines_table([
        {"pipeline_id": "p-1", "status": "RUNNING", "started_at": 1_700_000_000.0, "finished_at": None, "tasks": 3},
        {"pipeline_id": "pipeline-22", "status": "COMPLETED", "started_at": 1_700_000_000.0, "finished_at": 1_700_000_000.25, "tasks": 12},
    ], ["http://10.0.0.2:6066"])
    header, first, second, missing = table.splitlines()
    assert header.split() == ["PIPELINE", "STATUS", "STARTED", "DURATION", "TASKS"]
    assert header.index("STATUS") == first.index("RUNNING") == second.index("COMPLETED")
    assert "250 ms" in second and second.endswith("12")
    assert missing == "not answering (their pipelines are missing): http://10.0.0.2:6066"
    assert pipelines_table([], []).endswith("(no pipelines)")


def test_the_status_tree_shows_groups_branches_and_each_step():
    def task(name: str, status: str, **more: object) -> dict[str, object]:
        return {"type": "task", "name": name, "status": status, **more}

    pipeline = {
        "pipeline_id": "p", "status": "FAILED", "started_at": 10.0, "finished_at": 12.0,
        "task_counts": {"SUCCEEDED": 1, "FAILED": 1, "SKIPPED": 1},
        "steps": [
            {"type": "parallel", "branches": [[task("load", "SUCCEEDED", requested_at=10.0, finished_at=10.5)],
                                              [task("load", "FAILED", error={"type": "builtins.ValueError", "message": "bad"})]]},
            task("average", "SKIPPED"),
        ],
        "error": {"type": "builtins.ValueError", "message": "bad"},
    }
    assert pipeline_tree(pipeline).splitlines() == [
        "pipeline p: FAILED  (2.00 s; 1 failed, 1 skipped, 1 succeeded)",
        "├─ in parallel (2 branches)",
        "│  ├─ branch 1",
        "│  │  └─ ✔ load  SUCCEEDED  500 ms",
        "│  └─ branch 2",
        "│     └─ ✘ load  FAILED  builtins.ValueError: bad",
        "└─ - average  SKIPPED",
        "error: builtins.ValueError: bad",
    ]


def test_registering_with_an_unreachable_registry_says_so_and_fails(capsys):
    from streams.cli import main

    assert main(["schemas", "--register", "http://127.0.0.1:9/registry"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the schema registry at http://127.0.0.1:9/registry" in err and "check the URL" in err


def test_an_unknown_compatibility_level_is_refused_before_anything_is_sent():
    import pytest

    from streams.schema_registry import SchemaRegistry, register_all

    with pytest.raises(ValueError, match="compatibility must be one of BACKWARD"):
        register_all(SchemaRegistry("http://127.0.0.1:9"), "SOMETIMES")
