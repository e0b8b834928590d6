/**
 * runSandboxed and sandboxHost from a workflow on a worker and task queue of its own: where a
 * step goes when its host never takes it up, and what a caller catches when a step fails. The
 * examples' test (examples.test.ts) covers the plain call, retries, cancellation and the handle.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { scheduledActivities } from '../support/sandboxed.js';
import type { failureOf, pinnedHost } from '../support/sandboxed-workflows.js';
import { startTestCluster, type TestCluster } from '../support/worker.js';

let cluster: TestCluster;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
const ownQueue = `own-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  cluster = await startTestCluster();
  connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  worker = await Worker.create({
    connection,
    taskQueue: ownQueue,
    workflowsPath: fileURLToPath(new URL('../support/sandboxed-workflows.ts', import.meta.url)),
  });
  running = worker.run();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await connection?.close();
  await cluster?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: the SDK's own Workflow type takes any arguments
const start = <T extends (...args: any[]) => Promise<unknown>>(type: string, args: Parameters<T>) =>
  cluster.client.workflow.start<T>(type, {
    taskQueue: ownQueue,
    workflowId: `${type}-${randomBytes(4).toString('hex')}`,
    args,
  } as never);

describe('a sandboxed step', () => {
  it('whose host never takes it up moves to a host that answers, and later steps follow', async () => {
    // A host queue no worker serves: the first attempt waits out queueTimeout (2 s) unseen.
    const gone = { host: 'gone-host', hostQueue: `${cluster.taskQueue}@gone-host` };
    const handle = await start<typeof pinnedHost>('pinnedHost', [cluster.taskQueue, gone]);
    expect(await handle.result()).toEqual({
      ran: ['test-host', 'test-host'],
      target: { host: 'test-host', hostQueue: cluster.worker.hostQueue },
    });
    expect(await scheduledActivities(handle)).toEqual([
      expect.objectContaining({ type: 'runContainer', taskQueue: gone.hostQueue, closed: 'timed out' }),
      expect.objectContaining({ type: 'hostQueue', taskQueue: cluster.taskQueue, closed: 'completed' }),
      expect.objectContaining({
        type: 'runContainer',
        taskQueue: cluster.worker.hostQueue,
        closed: 'completed',
      }),
      expect.objectContaining({
        type: 'runContainer',
        taskQueue: cluster.worker.hostQueue,
        closed: 'completed',
      }),
    ]);
  });

  it('that exits with a failing code throws ContainerExit with its result, after its retries', async () => {
    const handle = await start<typeof failureOf>('failureOf', [
      { name: 'bad', args: ['/bin/sh', '-c', 'echo broken >&2; exit 3'] },
      { taskQueue: cluster.taskQueue, retry: { maximumAttempts: 2, initialInterval: '100ms' } },
    ]);
    expect(await handle.result()).toMatchObject({
      type: 'ContainerExit',
      result: { step: 'bad', exitCode: 3, stderrTail: 'broken\n', attempt: 2 },
    });
  });

  it('with a non-retryable exit code fails on its first attempt', async () => {
    const handle = await start<typeof failureOf>('failureOf', [
      { args: ['/bin/sh', '-c', 'exit 2'] },
      { taskQueue: cluster.taskQueue, retry: { maximumAttempts: 5, nonRetryableExitCodes: [2] } },
    ]);
    expect(await handle.result()).toMatchObject({
      type: 'ContainerExit',
      result: { step: 'sh', attempt: 1 },
    });
  });

  it('that is no step is refused in the workflow: InvalidStep, nothing scheduled', async () => {
    const handle = await start<typeof failureOf>('failureOf', [
      { args: [] },
      { taskQueue: cluster.taskQueue },
    ]);
    expect(await handle.result()).toMatchObject({
      type: 'InvalidStep',
      message: expect.stringContaining('args'),
    });
    expect(await scheduledActivities(handle)).toEqual([]);
  });

  it('that asks more than the worker’s policy allows throws InvalidStep, not retried', async () => {
    const handle = await start<typeof failureOf>('failureOf', [
      { args: ['/bin/true'], mounts: [{ source: '/etc', destination: '/host-etc' }] },
      { taskQueue: cluster.taskQueue },
    ]);
    expect(await handle.result()).toMatchObject({
      type: 'InvalidStep',
      message: expect.stringContaining('mounts[0].source'),
    });
    const runs = (await scheduledActivities(handle)).filter((a) => a.type === 'runContainer');
    expect(runs).toEqual([expect.objectContaining({ attempt: 1, closed: 'failed' })]);
  });

  it('with no sandbox worker on its task queue throws NoSandboxWorker, naming the queue', async () => {
    const nowhere = `nobody-${randomBytes(4).toString('hex')}`;
    const handle = await start<typeof failureOf>('failureOf', [
      { args: ['/bin/true'] },
      { taskQueue: nowhere, queueTimeout: '1s' },
    ]);
    expect(await handle.result()).toMatchObject({
      type: 'NoSandboxWorker',
      message: expect.stringContaining(nowhere),
    });
  });

  it('that outlasts its timeout throws a START_TO_CLOSE timeout', async () => {
    const handle = await start<typeof failureOf>('failureOf', [
      { name: 'slow', args: ['/bin/sleep', '60'] },
      { taskQueue: cluster.taskQueue, timeout: '2s', retry: { maximumAttempts: 1 } },
    ]);
    expect(await handle.result()).toMatchObject({ type: 'Timeout', timeoutType: 'START_TO_CLOSE' });
  });
});
