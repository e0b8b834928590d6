"""A Python workflow that runs one step in a gVisor sandbox on temporal-runsc workers.

The temporal-runsc workers (``temporal-runsc worker``, TypeScript) serve three activities that
any Temporal SDK can call by name:

- ``hostQueue`` on the shared queue (``temporal-runsc`` by default): answers with a host and its
  own queue, ``{"host": ..., "hostQueue": ...}``;
- ``runContainer`` on that host queue: runs the step, returns its result, or fails with an
  ``ApplicationError`` of type ``ContainerExit``, ``RuntimeError``, ``InvalidStep``,
  ``StepTimedOut`` or ``StepAborted`` (details: the result);
- ``abortStep`` on the host's control queue (``<hostQueue>-control``): aborts a running step of
  the calling workflow at once.

Cancelling this workflow aborts its step: at once through ``abortStep``, or, with
``abortOnCancel: false``, when the cancellation reaches the step with the response to its next
heartbeat (about 2 s). Either way the workflow waits until the container is gone
(``WAIT_CANCELLATION_COMPLETED``).

Run it (a Temporal server and a temporal-runsc worker running)::

    pip install -r requirements.txt
    python sandbox_step.py --address localhost:7233 -- /bin/sh -c 'echo hello'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

DEFAULT_SHARED_QUEUE = "temporal-runsc"


def control_queue_for(host_queue: str) -> str:
    """The host's control queue, as temporal-runsc names it (workflows/control-queue.ts)."""
    return f"{host_queue}-control"


@workflow.defn
class SandboxStep:
    """Input: ``{"step": <runContainer input>, "sharedQueue"?, "abortOnCancel"?, "timeoutSeconds"?}``.

    The runContainer input is JSON with the activity's field names: ``step`` (its name),
    ``args``, and optionally ``env``, ``cwd``, ``user``, ``mounts``, ``limits``, ``rootfs``,
    ``network``, ``secrets``, ``exitCodes``, ``failOn``, ``nonRetryableExitCodes``,
    ``retryableExitCodes``, ``graceMs``, ``tmpfsBytes``.
    Returns runContainer's result: ``exitCode``, ``signal``, ``stdoutTail``, ``stderrTail``,
    ``result`` (the step's /out/result.json), ``containerId``, ``host``, ``attempt``, ...
    """

    @workflow.run
    async def run(self, params: dict[str, Any]) -> dict[str, Any]:
        step: dict[str, Any] = params["step"]
        target = await workflow.execute_activity(
            "hostQueue",
            task_queue=params.get("sharedQueue", DEFAULT_SHARED_QUEUE),
            start_to_close_timeout=timedelta(seconds=30),
            result_type=dict,
        )
        running = workflow.start_activity(
            "runContainer",
            step,
            task_queue=target["hostQueue"],
            start_to_close_timeout=timedelta(seconds=params.get("timeoutSeconds", 600)),
            # How fast a lost host is noticed; the cancellation also arrives with a heartbeat.
            heartbeat_timeout=timedelta(seconds=10),
            # A cancelled workflow waits until the step's container is confirmed gone.
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=["InvalidStep"]),
            result_type=dict,
        )
        try:
            # Shielded: a cancellation of the workflow lands here first, so the abort below can
            # be sent before the activity hears of it.
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            if params.get("abortOnCancel", True) and not running.done():
                await self._abort(target["hostQueue"], step["step"])
            running.cancel()
            try:
                await running  # ends once the container is gone: StepAborted, or cancelled
            except (ActivityError, asyncio.CancelledError):
                pass
            raise

    async def _abort(self, host_queue: str, step: str) -> None:
        """abortStep on the host's control queue: best effort; the cancellation still follows."""
        try:
            await workflow.execute_activity(
                "abortStep",
                {"step": step},
                task_queue=control_queue_for(host_queue),
                schedule_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as error:
            workflow.logger.warning("abortStep failed; the heartbeat brings the cancellation: %s", error)


def step_failure(error: BaseException) -> dict[str, Any] | None:
    """The runContainer failure inside a failed workflow: its type, message and result."""
    cause = error
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type:
            details = list(cause.details) if cause.details else []
            return {
                "errorType": cause.type,
                "message": cause.message,
                "nonRetryable": cause.non_retryable,
                "details": details[0] if details else None,
            }
        cause = cause.cause
    return None


async def main() -> int:
    parser = argparse.ArgumentParser(description="Run one command in a temporal-runsc sandbox.")
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--shared-queue", default=DEFAULT_SHARED_QUEUE)
    parser.add_argument("--task-queue", default="python-sandbox-steps", help="this program's own queue")
    parser.add_argument("args", nargs="+", help="the step's program and arguments")
    options = parser.parse_args()

    client = await Client.connect(options.address, namespace=options.namespace)
    async with Worker(client, task_queue=options.task_queue, workflows=[SandboxStep]):
        try:
            result = await client.execute_workflow(
                SandboxStep.run,
                {"sharedQueue": options.shared_queue, "step": {"step": "main", "args": options.args}},
                id=f"python-sandbox-step-{uuid.uuid4()}",
                task_queue=options.task_queue,
            )
        except WorkflowFailureError as error:
            print(json.dumps(step_failure(error) or {"error": str(error.cause)}))
            return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
