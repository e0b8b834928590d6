// A sandbox worker in a process of its own, for the scenarios that SIGKILL a worker, read its
// memory or count its runtime calls. Like test/support/worker-process.ts, plus MAX_CONTAINERS
// and GRACE_MS (the test one fixes the concurrency at the default 8; the RSS scenario needs 16)
// and WORKFLOWS_PATH (the run's pinned workflow code), and an optional RUNSC_COMMAND (a counting wrapper). Prints one JSON line with "ready" once
// both workers are created (polling starts right after).
import { NativeConnection, Runtime } from '@temporalio/worker';
import { createSandboxWorker } from '../src/worker/index.js';
import { sdkLogger } from './sdk-logger.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`bench worker-process: set ${name}`);
  return value;
};

Runtime.install({ logger: sdkLogger() });
const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
const worker = await createSandboxWorker({
  connection,
  taskQueue: env('TASK_QUEUE'),
  hostQueue: env('HOST_QUEUE'),
  host: env('HOST_NAME'),
  runtime: {
    command: process.env.RUNSC_COMMAND || 'runsc',
    root: env('RUNSC_ROOT'),
    platform: 'ptrace',
    network: 'none',
  },
  workDir: env('WORK_DIR'),
  rootfs: env('ROOTFS'),
  graceMs: Number(env('GRACE_MS')),
  maxConcurrentContainers: Number(env('MAX_CONTAINERS')),
  workflowsPath: env('WORKFLOWS_PATH'),
});
console.log(JSON.stringify({ ready: true, sweep: worker.startupSweep }));
await worker.run();
await connection.close();
