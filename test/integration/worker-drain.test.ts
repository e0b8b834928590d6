/**
 * Drain: a CLI worker told to stop (SIGTERM) takes no new steps and lets a running one finish for
 * up to --drain-timeout; without a drain the step is aborted. Real worker processes, dev server
 * and runsc. The step waits for a file that the test writes after the stop: without a drain,
 * once the worker has exited; with one, after longer than the default drain and its abort.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelineResult, startPipeline } from '../../src/client/index.js';
import { processesOfRoot } from '../../src/host/processes.js';
import { testRuntime } from '../support/runtime.js';
import {
  testWorkerCliSettings,
  testWorkflowBundle,
  waitForRunningStep,
  waitForText,
} from '../support/worker.js';
import { startWorkerCli, type WorkerCliProcess, type WorkerCliSettings } from '../support/worker-cli.js';

const runtime = testRuntime();
let connection: Connection;
let client: Client;
let workflowBundlePath: string;
const started: WorkerCliProcess[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address: testWorkerCliSettings('x').address });
  client = new Client({ connection });
  workflowBundlePath = await testWorkflowBundle();
});

afterAll(async () => {
  for (const worker of started) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    await worker.exited;
  }
  await connection?.close();
});

async function start(settings: WorkerCliSettings, what: string) {
  const worker = await startWorkerCli(settings, { what });
  started.push(worker);
  return worker;
}

async function waitForStderr(worker: WorkerCliProcess, text: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!worker.stderr().includes(text)) {
    if (Date.now() > deadline)
      throw new Error(`the worker never said ${JSON.stringify(text)}: ${worker.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts the gated step, stops the worker mid-step, lets the step go; returns the result. */
async function stopMidStep(unguarded: WorkerCliSettings) {
  // Beside the worker's work dir (the policy never lets a step mount that), allowed for it.
  const gate = `${unguarded.workDir}-gate`;
  await mkdir(gate, { recursive: true });
  const settings = { ...unguarded, allowMountRw: [gate] };
  const worker = await start(settings, 'the draining worker');
  try {
    return await stopRunningStep(settings, worker, gate);
  } finally {
    // A test that failed half-way still stops its worker, which aborts what it runs.
    if (worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }
}

async function stopRunningStep(
  settings: WorkerCliSettings,
  worker: Awaited<ReturnType<typeof start>>,
  gate: string,
) {
  const handle = await startPipeline(
    client,
    {
      name: 'drain',
      steps: [
        {
          name: 'gated',
          args: ['/bin/sh', '-c', 'echo ready; while [ ! -e /gate/go ]; do sleep 0.1; done; echo finished'],
          mounts: [{ source: gate, destination: '/gate' }],
          retry: { maximumAttempts: 2, initialInterval: '100ms' },
        },
      ],
    },
    { taskQueue: settings.taskQueue },
  );
  const step = await waitForRunningStep(handle, 'gated');
  const log = join(settings.workDir, 'logs', `${step.containerId}.log`);
  await waitForText(log, 'ready');

  worker.child.kill('SIGTERM');
  await waitForStderr(worker, 'SIGTERM: taking no new steps');
  // With a drain the worker waits for the step; without one it aborts it and exits. With one,
  // the step is let go only after the default drain (1 s) and the abort after it would be over.
  if (settings.drainTimeout === undefined) await worker.exited;
  else await sleep(3000);
  const stillUp = worker.child.exitCode === null;
  await writeFile(join(gate, 'go'), '');
  const exit = await worker.exited;
  const firstAttemptLog = await readFile(log, 'utf8');
  const containerLeft = await runtime.exists(step.containerId as string);

  // Another worker on the same queues carries the pipeline on.
  const next = await start({ ...settings }, 'the next worker');
  try {
    return { stillUp, exit, firstAttemptLog, containerLeft, result: await pipelineResult(handle) };
  } finally {
    next.child.kill('SIGTERM');
    await next.exited;
  }
}

describe('a worker stopped mid-step', () => {
  it('with --drain-timeout 20s lets the running step finish: it succeeds on its first attempt', async () => {
    const outcome = await stopMidStep(
      testWorkerCliSettings('drain', { workflowBundlePath, drainTimeout: '20s' }),
    );
    expect(outcome.stillUp).toBe(true);
    expect(outcome.exit).toEqual({ exitCode: 0, signal: undefined });
    expect(outcome.firstAttemptLog).toContain('finished');
    expect(outcome.containerLeft).toBe(false);
    expect(outcome.result.status).toBe('completed');
    expect(outcome.result.steps[0]).toMatchObject({ status: 'succeeded', exitCode: 0, attempts: 1 });
    expect(await processesOfRoot(testWorkerCliSettings('x').root)).toEqual([]);
  });

  it('without a drain aborts the running step, which succeeds only on its retry', async () => {
    const outcome = await stopMidStep(testWorkerCliSettings('nodrain', { workflowBundlePath }));
    expect(outcome.exit).toEqual({ exitCode: 0, signal: undefined });
    expect(outcome.firstAttemptLog).not.toContain('finished');
    expect(outcome.containerLeft).toBe(false);
    expect(outcome.result.status).toBe('completed');
    expect(outcome.result.steps[0]).toMatchObject({ status: 'succeeded', exitCode: 0, attempts: 2 });
    expect(await processesOfRoot(testWorkerCliSettings('x').root)).toEqual([]);
  });
});
