/**
 * A worker that is half dead exits. The fault is a real one: the worker's namespace is deleted
 * on the real dev server while a step runs, so that its SDK workers' polls fail. (A lost server
 * would not do: the SDK retries polls for as long as it is down, measured over 5 minutes, which
 * is right; a single SDK worker stopping alone cannot be provoked from outside, and is covered
 * by test/unit/worker-supervise.test.ts with fakes.) The SDK turns the poll errors into a
 * worker failure after its 60 s grace for "fatal" poll errors; the process must then abort its
 * step, leave nothing behind and exit 1 for its supervisor, instead of hanging (its SDK workers'
 * run() was seen never to settle).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline } from '../../src/client/index.js';
import { processesOfRoot } from '../../src/host/processes.js';
import { testRuntime } from '../support/runtime.js';
import { testWorkerCliSettings, testWorkflowBundle, waitForRunningStep } from '../support/worker.js';
import { startWorkerCli, type WorkerCliProcess } from '../support/worker-cli.js';

const runtime = testRuntime();
const namespace = `trs-fault-${randomBytes(4).toString('hex')}`;
let connection: Connection;
let workflowBundlePath: string;
let worker: WorkerCliProcess | undefined;

beforeAll(async () => {
  connection = await Connection.connect({ address: testWorkerCliSettings('x').address });
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1d'),
  });
  // The frontend knows a new namespace only after its cache refreshes.
  const deadline = Date.now() + 30_000;
  while (
    !(await connection.workflowService.describeNamespace({ namespace }).then(
      () => true,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) throw new Error(`namespace ${namespace} never became usable`);
    await sleep(200);
  }
  workflowBundlePath = await testWorkflowBundle();
});

afterAll(async () => {
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null)
    worker.child.kill('SIGKILL');
  await worker?.exited;
  await connection?.close();
});

describe('a worker whose SDK workers fail (its namespace deleted mid-step)', () => {
  it('aborts its step, leaves nothing behind and exits 1, naming the failed worker', {
    timeout: 180_000,
  }, async () => {
    const settings = testWorkerCliSettings('fault', { workflowBundlePath, namespace, graceMs: 1000 });
    worker = await startWorkerCli(settings, { what: 'the fault worker' });
    const client = new Client({ connection, namespace });
    const handle = await startPipeline(
      client,
      { name: 'fault', steps: [{ name: 'long', args: ['/bin/sleep', '600'] }] },
      { taskQueue: settings.taskQueue },
    );
    const step = await waitForRunningStep(handle, 'long');

    await connection.operatorService.deleteNamespace({ namespace });
    const exit = await worker.exited;

    expect(exit).toEqual({ exitCode: 1, signal: undefined });
    expect(worker.stderr()).toMatch(/the worker on \S+ failed.*stopped all its workers/);
    expect(await runtime.exists(step.containerId as string)).toBe(false);
    expect(await processesOfRoot(settings.root)).toEqual([]);
  });
});
