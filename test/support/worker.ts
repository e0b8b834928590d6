import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import {
  createSandboxWorker,
  type SandboxWorker,
  type SandboxWorkerOptions,
} from '../../src/worker/index.js';
import { testRuntime } from './runtime.js';

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
