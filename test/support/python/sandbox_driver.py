"""Drives examples/python/sandbox_step.py for test/integration/python-sdk.test.ts: a Python
worker for the example's workflow and a Python client that starts it, optionally cancels it when
told to on stdin, and reports each event as one JSON line on stdout."""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples" / "python"))

from sandbox_step import SandboxStep, step_failure  # noqa: E402
from temporalio.client import Client, WorkflowFailureError  # noqa: E402
from temporalio.exceptions import CancelledError  # noqa: E402
from temporalio.worker import Worker  # noqa: E402


def emit(event: dict) -> None:
    print(json.dumps(event), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--workflow-id", required=True)
    parser.add_argument("--input", required=True, help="the workflow's input, JSON")
    parser.add_argument("--cancel-on-stdin", action="store_true", help="cancel when a line arrives")
    options = parser.parse_args()

    client = await Client.connect(options.address)
    async with Worker(client, task_queue=options.task_queue, workflows=[SandboxStep]):
        handle = await client.start_workflow(
            SandboxStep.run, json.loads(options.input), id=options.workflow_id, task_queue=options.task_queue
        )
        emit({"event": "started", "workflowId": handle.id})
        if options.cancel_on_stdin:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            at = time.time() * 1000
            await handle.cancel()
            emit({"event": "cancelRequested", "at": at})
        try:
            emit({"event": "completed", "result": await handle.result()})
        except WorkflowFailureError as error:
            emit(
                {
                    "event": "failed",
                    "cancelled": isinstance(error.cause, CancelledError),
                    "failure": step_failure(error),
                    "message": str(error.cause),
                }
            )


if __name__ == "__main__":
    asyncio.run(main())
