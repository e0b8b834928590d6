/**
 * A sandbox worker that also serves workflows of one's own (workflows.ts) on its task queue
 * (`temporal-runsc`, the default), beside sandboxPipeline:
 *
 *   tsx examples/sandbox-worker/worker.ts        # as root, with runsc
 *   temporal workflow start --task-queue temporal-runsc --type checksum --input '"hello"'
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection } from '@temporalio/worker';
// In your project: from 'temporal-runsc'.
import { createSandboxWorker, type SandboxWorkerOptions } from '../../src/worker/index.js';

export const workflowsPath = fileURLToPath(new URL('./workflows.ts', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options: SandboxWorkerOptions = {
    connection: await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233' }),
    runtime: { root: '/run/temporal-runsc' },
    workDir: '/var/lib/temporal-runsc',
    workflowsPath,
  };
  await (await createSandboxWorker(options)).run();
}
