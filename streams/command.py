"""Command tasks: a shell command template run by a worker as a subprocess, like a CRON
workflow tool's shell tasks.

    backup = tasks.command("backup", "pg_dump {database} > /backups/{database}.sql", timeout=600)
    backup.send("orders")            # or backup.send(database="orders")

The template's `{placeholders}` are the task's parameters, in order of first appearance; each
value is shell-quoted before it is put in (an argument is never run as code). stdout, without
its trailing newline, is the result; a non-zero exit fails the task with `CommandFailedError`
carrying the end of stderr; a command still running after `timeout` seconds is killed and fails
with `TaskTimeoutError` (retryable through a `RetryPolicy` that names it).
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shlex
import signal
import string
from collections.abc import Callable
from typing import Any

from events.errors import CommandFailedError, PipelineDefinitionError, TaskTimeoutError

STDERR_TAIL_CHARS = 2000  # of stderr kept in a failure's message


def placeholders(template: str) -> list[str]:
    """The template's field names in order of first appearance; refuses positional `{}` and
    `{0}` fields (they name nothing to bind by) with what to write instead."""
    names: list[str] = []
    for _, field, _, _ in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier():
            raise PipelineDefinitionError(
                f"command template {template!r}: placeholder {{{field}}} must be a name, e.g. {{path}}"
            )
        if field not in names:
            names.append(field)
    return names


def command_function(name: str, template: str, timeout: float | None) -> Callable[..., Any]:
    """An async function whose parameters are the template's placeholders, running the command."""
    fields = placeholders(template)

    async def run(*args: Any, **kwargs: Any) -> str:
        values = dict(zip(fields, args, strict=False)) | kwargs
        command = template.format(**{key: shlex.quote(str(value)) for key, value in values.items()})
        # In a session of its own, so a timeout kills everything the command started, not only
        # the shell (`a; b`, pipes and `&` jobs are its children).
        process = await asyncio.create_subprocess_shell(
            command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            raise TaskTimeoutError(
                f"command task {name} ran longer than its timeout of {timeout:g} s and was killed: "
                f"{command}. Raise `timeout` or make the command faster."
            ) from None
        if process.returncode != 0:
            tail = stderr.decode(errors="replace")[-STDERR_TAIL_CHARS:].strip()
            raise CommandFailedError(f"command task {name} exited with {process.returncode}: {command}\n{tail}")
        return stdout.decode(errors="replace").removesuffix("\n")

    # The executor binds a request's arguments by the function's signature: give it the template's.
    parameters = [inspect.Parameter(field, inspect.Parameter.POSITIONAL_OR_KEYWORD) for field in fields]
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__name__ = run.__qualname__ = name
    return run
