import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import { pipelineStatus } from '../../src/client/index.js';
import { writeWorkflowBundle } from '../../src/worker/bundle.js';
import {
  createSandboxWorker,
  type SandboxWorker,
  type SandboxWorkerOptions,
} from '../../src/worker/index.js';
import type { StepReport } from '../../workflows/types.js';
import { testRuntime } from './runtime.js';
import type { WorkerCliSettings } from './worker-cli.js';

export interface TestCluster {
  client: Client;
  worker: SandboxWorker;
  taskQueue: string;
  /** Runs the worker in the background; stop() shuts it down and closes connections. */
  stop(): Promise<void>;
}

/** A sandbox worker and a client on the suite's dev server, with a task queue of their own. */
export async function startTestCluster(options: Partial<SandboxWorkerOptions> = {}): Promise<TestCluster> {
  const address = inject('temporalAddress');
  const taskQueue = `trs-test-${randomBytes(4).toString('hex')}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createSandboxWorker({
    connection: nativeConnection,
    taskQueue,
    host: 'test-host',
    runtime: testRuntime(),
    workDir: join(inject('workDir'), 'workers', taskQueue),
    rootfs: inject('rootfs'),
    graceMs: 1000,
    sweepOnStart: false,
    // The suite's workers share its one root on purpose (a test's CLI worker beside this one).
    lockRoot: false,
    ...options,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  return {
    client,
    worker,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** Waits until the pipeline reports `name` running with its container and pid (20 s at most). */
export async function waitForRunningStep(
  handle: Parameters<typeof pipelineStatus>[0],
  name: string,
  timeoutMs = 20_000,
): Promise<StepReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const step = (await pipelineStatus(handle)).steps.find((s) => s.name === name);
    if (step?.status === 'running' && step.pid && step.containerId) return step;
    if (Date.now() > deadline) throw new Error(`step ${name} never ran: ${JSON.stringify(step)}`);
    await sleep(50);
  }
}

/** Waits until the file contains `text` (20 s at most). */
export async function waitForText(path: string, text: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await readFile(path, 'utf8').catch(() => '')).includes(text)) {
    if (Date.now() > deadline) throw new Error(`${path} never said ${JSON.stringify(text)}`);
    await sleep(50);
  }
}

/**
 * Settings for a CLI worker (test/support/worker-cli.ts) on the suite's dev server, root, rootfs
 * and a work dir and task queue of its own.
 */
export function testWorkerCliSettings(
  name: string,
  extra: Partial<WorkerCliSettings> = {},
): WorkerCliSettings {
  const taskQueue = `trs-${name}-${randomBytes(4).toString('hex')}`;
  return {
    address: inject('temporalAddress'),
    taskQueue,
    hostQueue: `${taskQueue}@${name}-host`,
    host: `${name}-host`,
    root: inject('runscRoot'),
    workDir: join(inject('workDir'), taskQueue),
    rootfs: inject('rootfs'),
    graceMs: 5000,
    ...extra,
  };
}

/** The workflow code bundled once per test file, so that each CLI worker starts in seconds. */
export async function testWorkflowBundle(): Promise<string> {
  const path = join(inject('workDir'), `workflow-bundle-${randomBytes(4).toString('hex')}.js`);
  await writeWorkflowBundle(path);
  return path;
}
