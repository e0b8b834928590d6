/**
 * A step as a workflow sees it, on the real dev server and real runsc: cancellation, timeouts,
 * retries by exit code, and a worker killed mid-step.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cancelPipeline, pipelineResult, startPipeline } from '../../src/client/index.js';
import { processesOfRoot } from '../../src/host/processes.js';
import { makeContainerId } from '../../src/runtime/index.js';
import type { PipelineInput } from '../../workflows/types.js';
import { testRuntime } from '../support/runtime.js';
import { scheduledActivities } from '../support/sandboxed.js';
import { startTestCluster, type TestCluster, waitForRunningStep } from '../support/worker.js';
import { readyLine, repoRoot, sourceWorkerNodeArgs } from '../support/worker-cli.js';

const runtime = testRuntime();
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

function pipeline(steps: PipelineInput['steps'], extra: Partial<PipelineInput> = {}): PipelineInput {
  return { name: 'test', steps, ...extra };
}

async function start(input: PipelineInput) {
  return startPipeline(cluster.client, input, { taskQueue: cluster.taskQueue });
}

async function waitForContainerStatus(id: string, status: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await runtime.state(id).catch(() => undefined))?.status !== status) {
    if (Date.now() > deadline) throw new Error(`container ${id} never became ${status}`);
    await sleep(20);
  }
}

describe('a pipeline step', () => {
  it('cancelling the workflow removes its running container before the pipeline ends cancelled', async () => {
    const handle = await start(pipeline([{ name: 'long', args: ['/bin/sleep', '60'] }]));
    const running = await waitForRunningStep(handle, 'long');
    expect(running.host).toBe('test-host');
    const containerId = running.containerId as string;
    await waitForContainerStatus(containerId, 'running');

    const cancelledAt = Date.now();
    await cancelPipeline(handle);
    const result = await pipelineResult(handle);
    // The figure is the bench's (bench/cancel-sandboxed.ts); here, what a user relies on: once
    // the pipeline says cancelled, its container is gone.
    console.log(`cancel-to-result: ${Date.now() - cancelledAt} ms`);
    expect(await runtime.exists(containerId)).toBe(false);
    expect(result.status).toBe('cancelled');
    expect(result.steps[0]).toMatchObject({ name: 'long', status: 'cancelled' });
  });

  it('kills a step that hits its timeout (startToClose) and reports it', async () => {
    const handle = await start(
      pipeline([{ name: 'slow', args: ['/bin/sleep', '60'], timeout: '2s', retry: { maximumAttempts: 1 } }]),
    );
    const result = await pipelineResult(handle);
    expect(result.status).toBe('failed');
    expect(result.steps[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/timed out/) });
    // Its container, named from the attempt (the step may time out before any heartbeat shows it).
    const runs = (await scheduledActivities(handle)).filter((a) => a.type === 'runContainer');
    expect(runs).toEqual([expect.objectContaining({ attempt: 1, closed: 'timed out' })]);
    const containerId = makeContainerId({
      namespace: 'default',
      workflowId: handle.workflowId,
      runId: (await handle.describe()).runId,
      activityId: runs[0]?.activityId ?? '',
      attempt: 1,
    });
    // The timed-out activity aborts its container after the server gave up on it: wait for that.
    const deadline = Date.now() + 20_000;
    while ((await runtime.exists(containerId)) && Date.now() < deadline) await sleep(50);
    expect(await runtime.exists(containerId)).toBe(false);
  });

  it('fails after one attempt on a non-retryable exit code', async () => {
    const handle = await start(
      pipeline([
        {
          name: 'broken',
          args: ['/bin/sh', '-c', 'exit 3'],
          retry: { maximumAttempts: 5, initialInterval: '100ms', nonRetryableExitCodes: [3] },
        },
      ]),
    );
    const result = await pipelineResult(handle);
    expect(result.status).toBe('failed');
    expect(result.steps[0]).toMatchObject({ status: 'failed', exitCode: 3, attempts: 1 });
  });

  it('retries a failing exit code up to maximumAttempts', async () => {
    const handle = await start(
      pipeline([
        {
          name: 'flaky',
          args: ['/bin/sh', '-c', 'exit 1'],
          retry: { maximumAttempts: 3, initialInterval: '100ms' },
        },
      ]),
    );
    const result = await pipelineResult(handle);
    expect(result.steps[0]).toMatchObject({ status: 'failed', exitCode: 1, attempts: 3 });
  });
});

describe('a worker shut down mid-step', () => {
  it('aborts its running container before it exits', async () => {
    const own = await startTestCluster();
    let stopped = false;
    try {
      const handle = await startPipeline(
        own.client,
        pipeline([{ name: 'long', args: ['/bin/sleep', '60'] }]),
        {
          taskQueue: own.taskQueue,
        },
      );
      const running = await waitForRunningStep(handle, 'long');
      await waitForContainerStatus(running.containerId as string, 'running');
      await own.stop();
      stopped = true;
      expect(await runtime.exists(running.containerId as string)).toBe(false);
      await cluster.client.workflow.getHandle(handle.workflowId).terminate('test over');
    } finally {
      if (!stopped) await own.stop();
    }
  });
});

describe('a worker killed mid-step', () => {
  it('completes the step on the retry after a restart, leaving no orphan container or sandbox', async () => {
    const root = inject('runscRoot');
    const stateDir = join(inject('workDir'), `crash-${Date.now()}`);
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'attempts'), '');
    const hostQueue = `${cluster.taskQueue}-crash-host`;
    const taskQueue = `${cluster.taskQueue}-crash`;
    const workerArgs = sourceWorkerNodeArgs({
      address: inject('temporalAddress'),
      taskQueue,
      hostQueue,
      host: 'crash-host',
      root,
      workDir: join(stateDir, 'work'),
      rootfs: inject('rootfs'),
      graceMs: 1000,
      // It holds the worker's work dir, so the policy allows exactly it.
      allowMountRw: [stateDir],
    });
    const spawnWorker = async () => {
      const child = execa(process.execPath, workerArgs, {
        cwd: repoRoot,
        reject: false,
        stdout: 'pipe',
        stderr: 'inherit',
      });
      await readyLine(child, { what: 'the crash-host worker process' });
      // Wrapped: an async function returning the subprocess (a thenable) would wait for its exit.
      return { child };
    };

    const { child: first } = await spawnWorker();
    // Attempt 1 records itself and sleeps; a later attempt finds the record and succeeds.
    const handle = await startPipeline(
      cluster.client,
      pipeline([
        {
          name: 'survivor',
          args: [
            '/bin/sh',
            '-c',
            'echo x >> /state/attempts; if [ $(wc -l < /state/attempts) -ge 2 ]; then exit 0; fi; sleep 60',
          ],
          mounts: [{ source: stateDir, destination: '/state', readOnly: false }],
          // Above the 2 s heartbeat throttle with room: a loaded machine delays heartbeats.
          heartbeatTimeout: '5s',
          retry: { maximumAttempts: 3, initialInterval: '100ms' },
        },
      ]),
      { taskQueue },
    );
    const running = await waitForRunningStep(handle, 'survivor');
    first.kill('SIGKILL');
    await first;
    // The container outlives its worker: this is what must not be left behind.
    await waitForContainerStatus(running.containerId as string, 'running');

    const { child: second } = await spawnWorker();
    try {
      const result = await pipelineResult(handle);
      expect(result.status).toBe('completed');
      expect(result.steps[0]).toMatchObject({ status: 'succeeded', exitCode: 0 });
      expect(result.steps[0]?.attempts).toBeGreaterThanOrEqual(2);
      expect(await runtime.exists(running.containerId as string)).toBe(false);
      expect(await runtime.list()).toEqual([]);
      // The running worker names the root too (`worker --root=<root>`): it is no leftover.
      expect((await processesOfRoot(root)).filter((p) => p.pid !== second.pid)).toEqual([]);
    } finally {
      second.kill('SIGTERM');
      await second;
    }
  });
});
