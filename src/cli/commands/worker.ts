import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { loadPolicy } from '../../policy/load.js';
import type { NetworkMode } from '../../policy/schema.js';
import { flavorOf } from '../../runtime/args.js';
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
  graceMs: number;
  workflowBundle?: string;
  json?: boolean;
  // The sandbox policy: a file, and flags that add to it.
  policy?: string;
  allowMountRo?: string[];
  allowMountRw?: string[];
  allowNetwork?: NetworkMode[];
  secretsDir?: string;
  allowWeakRuntime?: boolean;
}

/** Runs a sandbox worker until SIGINT/SIGTERM; running steps are aborted on the way out. */
export async function workerCommand(flags: WorkerFlags): Promise<void> {
  // Checked before connecting: a bad policy stops the worker with the field that is wrong.
  const policy = await loadPolicy(flags.policy ? resolve(flags.policy) : undefined, {
    allowMountReadOnly: flags.allowMountRo,
    allowMountReadWrite: flags.allowMountRw,
    allowNetwork: flags.allowNetwork,
    secretsDir: flags.secretsDir,
    allowWeakRuntime: flags.allowWeakRuntime,
  });
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
      ...(flavorOf({ command: flags.runtime }) === 'runsc' ? { network: flags.network } : {}),
    },
    workDir: flags.workDir,
    rootfs: flags.rootfs,
    maxConcurrentContainers: flags.concurrency,
    graceMs: flags.graceMs,
    policy,
    ...(flags.workflowBundle ? { workflowBundle: { codePath: resolve(flags.workflowBundle) } } : {}),
  });
  const sweep = worker.startupSweep;
  console.error(
    `worker ${worker.host}: workflows on ${worker.taskQueue}, containers on ${worker.hostQueue} (aborts on ${worker.controlQueue}), root ${flags.root}` +
      (sweep
        ? `; start-up sweep removed ${sweep.containers.filter((c) => c.action === 'aborted').length} leftover container(s)`
        : ''),
  );
  const running = worker.run();
  // For supervisors (and the bench): the workers are created and start polling now.
  if (flags.json) {
    const { host, taskQueue, hostQueue, controlQueue } = worker;
    console.log(
      JSON.stringify({ ready: true, pid: process.pid, host, taskQueue, hostQueue, controlQueue, sweep }),
    );
  }
  await running;
  await connection.close();
}
