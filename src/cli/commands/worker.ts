import { hostname } from 'node:os';
import { createSandboxWorker } from '../../worker/index.js';
import { type ConnectionFlags, connectWorker } from '../connection.js';

export interface WorkerFlags extends ConnectionFlags {
  root: string;
  runtime: string;
  platform?: string;
  network: string;
  workDir: string;
  rootfs?: string;
  concurrency: number;
  taskQueue: string;
  hostQueue?: string;
  host?: string;
}

/** Runs a sandbox worker until SIGINT/SIGTERM; running steps are aborted on the way out. */
export async function workerCommand(flags: WorkerFlags): Promise<void> {
  const { connection, namespace } = await connectWorker(flags);
  const worker = await createSandboxWorker({
    connection,
    namespace,
    taskQueue: flags.taskQueue,
    hostQueue: flags.hostQueue,
    host: flags.host ?? hostname(),
    runtime: {
      command: flags.runtime,
      root: flags.root,
      ...(flags.platform ? { platform: flags.platform } : {}),
      ...(flags.runtime.includes('runsc') ? { network: flags.network } : {}),
    },
    workDir: flags.workDir,
    rootfs: flags.rootfs,
    maxConcurrentContainers: flags.concurrency,
  });
  const sweep = worker.startupSweep;
  console.error(
    `worker ${worker.host}: workflows on ${worker.taskQueue}, containers on ${worker.hostQueue}, root ${flags.root}` +
      (sweep
        ? `; start-up sweep removed ${sweep.containers.filter((c) => c.action === 'aborted').length} leftover container(s)`
        : ''),
  );
  await worker.run();
  await connection.close();
}
