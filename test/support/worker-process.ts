// A sandbox worker in a process of its own, for tests that kill a worker (SIGKILL) and start
// it again. Settings come from the environment; prints "ready" once polling.
import { NativeConnection } from '@temporalio/worker';
import { createSandboxWorker } from '../../src/worker/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`worker-process: set ${name}`);
  return value;
};

const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
const worker = await createSandboxWorker({
  connection,
  taskQueue: env('TASK_QUEUE'),
  hostQueue: env('HOST_QUEUE'),
  host: env('HOST_NAME'),
  runtime: { root: env('RUNSC_ROOT'), platform: 'ptrace', network: 'none' },
  workDir: env('WORK_DIR'),
  rootfs: env('ROOTFS'),
  graceMs: 1000,
});
console.log(JSON.stringify({ ready: true, sweep: worker.startupSweep }));
await worker.run();
await connection.close();
