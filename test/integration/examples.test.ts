/**
 * The README's own workflows (examples/), run as a user runs them: a sandbox worker on the
 * sandbox task queue (`temporal-runsc`, the default), and a worker of one's own on a task queue
 * of its own whose workflows call runSandboxed. Real dev server, real runsc.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOwnWorker } from '../../examples/own-worker/worker.js';
import type { buildThenTest, sandboxed, wordCount } from '../../examples/own-worker/workflows.js';
import { workflowsPath } from '../../examples/sandbox-worker/worker.js';
import type { checksum } from '../../examples/sandbox-worker/workflows.js';
import { controlQueueFor } from '../../workflows/control-queue.js';
import { testRuntime } from '../support/runtime.js';
import {
  clusterWorkDir,
  expectNothingLeft,
  localActivityMarkers,
  scheduledActivities,
  waitForContainer,
} from '../support/sandboxed.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

const runtime = testRuntime();
const sandboxQueue = 'temporal-runsc';
let cluster: TestCluster;
let ownConnection: NativeConnection;
let ownWorker: Worker;
let ownRunning: Promise<void>;
const ownQueue = `word-count-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  // The sandbox worker as the README starts it (the default task queue), serving the example's
  // own workflow beside the package's; steps may share folders under the suite's work dir.
  cluster = await startTestCluster({
    taskQueue: sandboxQueue,
    workflowsPath,
    policy: { mounts: { readWrite: [inject('workDir')] } },
  });
  ownConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  ownWorker = await createOwnWorker(ownConnection, ownQueue);
  ownRunning = ownWorker.run();
});

afterAll(async () => {
  if (ownWorker?.getState() === 'RUNNING') ownWorker.shutdown();
  await ownRunning;
  await ownConnection?.close();
  await cluster?.stop();
});

const workflowId = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

describe('a workflow on its own worker and task queue', () => {
  it('runs a sandboxed step on a sandbox host and gets its output', async () => {
    expect(ownQueue).not.toBe(cluster.worker.taskQueue);
    const handle = await cluster.client.workflow.start<typeof wordCount>('wordCount', {
      taskQueue: ownQueue,
      workflowId: workflowId('word-count'),
      args: ['one two three'],
    });
    expect(await handle.result()).toBe(3);
    // Its worker has no host-pick activity: it asked a sandbox worker, then ran on that host.
    expect(await scheduledActivities(handle)).toEqual([
      expect.objectContaining({
        type: 'hostQueue',
        taskQueue: sandboxQueue,
        closed: 'completed',
      }),
      expect.objectContaining({
        type: 'runContainer',
        taskQueue: cluster.worker.hostQueue,
        closed: 'completed',
      }),
    ]);
  });

  it('retries a failing step until it succeeds', async () => {
    const state = join(inject('workDir'), `retry-${randomBytes(4).toString('hex')}`);
    await mkdir(state, { recursive: true });
    // Fails on its first attempt, succeeds on the second: the count lives in a host folder.
    const script =
      'n=$(($(cat /state/n 2>/dev/null || echo 0) + 1)); echo $n > /state/n; [ $n -ge 2 ] || exit 1; echo attempt $n';
    const handle = await cluster.client.workflow.start<typeof sandboxed>('sandboxed', {
      taskQueue: ownQueue,
      workflowId: workflowId('retried'),
      args: [
        {
          args: ['/bin/sh', '-c', script],
          mounts: [{ source: state, destination: '/state', readOnly: false }],
        },
      ],
    });
    expect(await handle.result()).toEqual({ exitCode: 0, stdout: 'attempt 2\n' });
    expect((await readFile(join(state, 'n'), 'utf8')).trim()).toBe('2');
    const runs = (await scheduledActivities(handle)).filter((a) => a.type === 'runContainer');
    expect(runs).toEqual([expect.objectContaining({ attempt: 2, closed: 'completed' })]);
  });

  it('when cancelled, aborts the container through its host’s control queue and leaves nothing', async () => {
    const handle = await cluster.client.workflow.start<typeof sandboxed>('sandboxed', {
      taskQueue: ownQueue,
      workflowId: workflowId('cancelled'),
      // Slow to die on TERM: should the heartbeat bring the cancellation first, the step is still
      // being aborted (still registered) when abortStep arrives.
      args: [{ name: 'long', args: ['/bin/sh', '-c', "trap 'sleep 0.5; exit 143' TERM; sleep 60 & wait"] }],
    });
    const containerId = await waitForContainer(handle, runtime, 'long');
    await handle.cancel();
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    await expectNothingLeft(runtime, containerId, clusterWorkDir(sandboxQueue));
    // The abort went to the host's control queue and found the step running.
    const abort = (await scheduledActivities(handle)).find((a) => a.type === 'abortStep');
    expect(abort).toMatchObject({
      taskQueue: controlQueueFor(cluster.worker.hostQueue),
      result: { running: true },
    });
  });

  it('keeps several steps on one host with a host handle', async () => {
    const dir = join(inject('workDir'), `host-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    const handle = await cluster.client.workflow.start<typeof buildThenTest>('buildThenTest', {
      taskQueue: ownQueue,
      workflowId: workflowId('build-then-test'),
      args: [dir],
    });
    expect(await handle.result()).toEqual({ hosts: ['test-host', 'test-host'], output: 'built\n' });
    // One host pick for both steps.
    expect((await scheduledActivities(handle)).map((a) => a.type)).toEqual([
      'hostQueue',
      'runContainer',
      'runContainer',
    ]);
  });
});

describe('a workflow served by the sandbox worker', () => {
  it('runs a sandboxed step with its host picked by a local activity', async () => {
    const handle = await cluster.client.workflow.start<typeof checksum>('checksum', {
      taskQueue: sandboxQueue,
      workflowId: workflowId('checksum'),
      args: ['hello'],
    });
    expect(await handle.result()).toBe(createHash('sha256').update('hello').digest('hex'));
    expect((await scheduledActivities(handle)).map((a) => a.type)).toEqual(['runContainer']);
    expect(await localActivityMarkers(handle)).toBe(1);
  });
});
