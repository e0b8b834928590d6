// A sandbox worker in a process of its own, so that a chaos scenario can SIGKILL it and start
// it again exactly as a host would be lost and come back. Configured by environment variables
// (like test/support/worker-process.ts, plus the runtime binary and the container concurrency);
// prints one JSON line `{"ready":true,...}` with the start-up sweep's report once it polls.
import { NativeConnection } from '@temporalio/worker';
import { createSandboxWorker } from '../src/worker/index.js';

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`chaos worker-process: set ${name}`);
  return value;
};

const startedAt = Date.now();
const connection = await NativeConnection.connect({ address: required('TEMPORAL_ADDRESS') });
const worker = await createSandboxWorker({
  connection,
  taskQueue: required('TASK_QUEUE'),
  hostQueue: required('HOST_QUEUE'),
  host: required('HOST_NAME'),
  runtime: {
    // The hanging-runtime scenario passes a test-only wrapper script here.
    command: process.env.RUNSC_COMMAND || 'runsc',
    flavor: 'runsc',
    root: required('RUNSC_ROOT'),
    platform: 'ptrace',
    network: 'none',
  },
  workDir: required('WORK_DIR'),
  rootfs: required('ROOTFS'),
  graceMs: 1000,
  maxConcurrentContainers: Number(process.env.MAX_CONTAINERS || 8),
});
console.log(
  JSON.stringify({
    ready: true,
    pid: process.pid,
    startMs: Date.now() - startedAt,
    sweep: worker.startupSweep,
  }),
);
await worker.run();
await connection.close();
