/**
 * S6: any workflow of the namespace can call a host queue's kill, delete and state activities.
 * Through the real activities on real runsc: a workflow naming another workflow's running
 * container is refused and the container keeps running; the workflow that ran it is served.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import type { RunContainerResult, RunHeartbeat } from '../../activities/index.js';
import type { ContainerState } from '../../src/runtime/index.js';
import { testActivities } from '../support/activities.js';
import { testRuntime, uniqueId, waitForStatus } from '../support/runtime.js';

const runtime = testRuntime();

/** An activity environment of one workflow run. */
function workflowEnv(workflowId: string, namespace = 'default') {
  return new MockActivityEnvironment({
    workflowNamespace: namespace,
    workflowExecution: { workflowId, runId: 'run-1' },
    activityId: '1',
    attempt: 1,
    heartbeatTimeoutMs: 2000,
  } as never);
}

async function firstHeartbeat(heartbeats: RunHeartbeat[]): Promise<RunHeartbeat> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const beat = heartbeats.find((h) => h.pid !== undefined);
    if (beat) return beat;
    if (Date.now() > deadline) throw new Error('no heartbeat with a pid within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('host-queue activities and the workflow that ran the step', () => {
  it("refuse another workflow's container, which keeps running; serve its own workflow", async () => {
    const activities = await testActivities();
    const owner = uniqueId('own');
    const ownerEnv = workflowEnv(owner);
    const heartbeats: RunHeartbeat[] = [];
    ownerEnv.on('heartbeat', (d: RunHeartbeat) => heartbeats.push(d));
    const running = ownerEnv
      .run(activities.runContainer, { step: 'victim', args: ['/bin/sleep', '60'] })
      .catch((e: unknown) => e) as Promise<RunContainerResult | Error>;
    let ended = false;
    try {
      const { containerId } = await firstHeartbeat(heartbeats);
      await waitForStatus(runtime, containerId, 'running');

      const strangers = [
        workflowEnv(uniqueId('other')), // another workflow of the namespace
        workflowEnv(owner, 'elsewhere'), // the same workflow id in another namespace
        new MockActivityEnvironment(), // the testing default: workflow "test"
      ];
      for (const env of strangers) {
        for (const call of [
          () => env.run(activities.killContainer, { containerId, signal: 'KILL' }),
          () => env.run(activities.deleteContainer, { containerId }),
          () => env.run(activities.containerState, { containerId }),
        ]) {
          const error = (await call().catch((e: unknown) => e)) as Error & { type?: string };
          expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
          expect(error.message).toMatch(/runs a step of another workflow/);
        }
      }
      expect((await runtime.state(containerId)).status).toBe('running');

      // The workflow that ran it is served (a fresh environment of the same workflow).
      const same = workflowEnv(owner);
      expect(
        ((await same.run(activities.containerState, { containerId })) as ContainerState | null)?.status,
      ).toBe('running');
      expect(await same.run(activities.killContainer, { containerId, signal: 'KILL' })).toEqual({
        delivered: true,
      });
      expect(await running).toMatchObject({ type: 'ContainerExit' });
      ended = true;
      expect(await runtime.exists(containerId)).toBe(false);
    } finally {
      if (!ended) {
        ownerEnv.cancel();
        await running;
      }
    }
  });
});
