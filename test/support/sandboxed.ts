/** Helpers for tests of sandboxed steps in workflows of one's own (runSandboxed, sandboxHost). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { expect, inject } from 'vitest';
import { runningContainers } from '../../src/client/running-steps.js';
import { listProcesses } from '../../src/host/processes.js';
import type { Runsc } from '../../src/runtime/index.js';

/** Waits until a workflow's step has a running container (its first heartbeat says which). */
export async function waitForContainer(
  handle: WorkflowHandle,
  runtime: Runsc,
  step: string,
): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = (await runningContainers(handle)).find((c) => c.step === step);
    if (found && (await runtime.state(found.containerId).catch(() => undefined))?.status === 'running') {
      return found.containerId;
    }
    if (Date.now() > deadline) throw new Error(`step ${step} never ran a container`);
    await sleep(50);
  }
}

/** Each activity the workflow scheduled, in order: its type, id, task queue, and how it closed. */
export async function scheduledActivities(handle: WorkflowHandle): Promise<
  {
    type: string;
    activityId: string;
    taskQueue: string;
    closed?: 'completed' | 'failed' | 'timed out' | 'cancelled';
    result?: unknown;
    attempt?: number;
  }[]
> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (!scheduled) return [];
    const id = String(event.eventId);
    const closes = (e: (typeof events)[number]) =>
      (
        [
          ['completed', e.activityTaskCompletedEventAttributes],
          ['failed', e.activityTaskFailedEventAttributes],
          ['timed out', e.activityTaskTimedOutEventAttributes],
          ['cancelled', e.activityTaskCanceledEventAttributes],
        ] as const
      ).find(([, a]) => a && String(a.scheduledEventId) === id)?.[0];
    const closing = events.find(closes);
    const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === id);
    const payload = closing?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    return [
      {
        type: scheduled.activityType?.name ?? '',
        activityId: scheduled.activityId ?? '',
        taskQueue: scheduled.taskQueue?.name ?? '',
        ...(closing ? { closed: closes(closing) } : {}),
        ...(payload ? { result: defaultPayloadConverter.fromPayload(payload) } : {}),
        ...(started ? { attempt: started.activityTaskStartedEventAttributes?.attempt ?? 0 } : {}),
      },
    ];
  });
}

/** How many local activities (markers of the host pick on a sandbox worker) the history holds. */
export async function localActivityMarkers(handle: WorkflowHandle): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
}

/**
 * What a user relies on after a cancelled step: the container is not listed, no process names
 * it, and its attempt folder on the worker is gone.
 */
export async function expectNothingLeft(runtime: Runsc, containerId: string, workerWorkDir: string) {
  expect(await runtime.exists(containerId)).toBe(false);
  expect((await listProcesses()).filter((p) => p.args.some((a) => a.includes(containerId)))).toEqual([]);
  expect(existsSync(join(workerWorkDir, 'runs', containerId))).toBe(false);
}

/** The work dir startTestCluster gives the worker of `taskQueue`. */
export function clusterWorkDir(taskQueue: string): string {
  return join(inject('workDir'), 'workers', taskQueue);
}
