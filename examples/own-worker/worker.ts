/**
 * The worker of one's own workflows (workflows.ts): its own task queue, not the sandbox's, and
 * no sandbox of its own. Its workflows' steps run on the sandbox workers:
 *
 *   temporal-runsc worker                        # on each sandbox host (task queue temporal-runsc)
 *   tsx examples/own-worker/worker.ts            # this worker, anywhere
 *   temporal workflow start --task-queue word-count --type wordCount --input '"one two three"'
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';

export const ownTaskQueue = 'word-count';

export async function createOwnWorker(
  connection: NativeConnection,
  taskQueue = ownTaskQueue,
): Promise<Worker> {
  return Worker.create({
    connection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const connection = await NativeConnection.connect({
    address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233',
  });
  await (await createOwnWorker(connection)).run();
}
