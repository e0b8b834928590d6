import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { loadPolicy } from '../../policy/load.js';
import type { NetworkMode } from '../../policy/schema.js';
import { flavorOf } from '../../runtime/args.js';
import { createSandboxWorker, defaultDrainTimeoutMs } from '../../worker/index.js';
import { WorkerStopped } from '../../worker/supervise.js';
import type { ConnectionFlags } from '../connection.js';
import { workerFaultExitCode } from '../exit-codes.js';
import { connectWorker } from '../worker-connection.js';

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
  allowRootfs?: string[];
  allowNetwork?: NetworkMode[];
  secretsDir?: string;
  allowWeakRuntime?: boolean;
  // Lifecycle: how a stop drains (milliseconds, from --drain-timeout).
  drainTimeout?: number;
  /** Where the Prometheus exporter listens (installed with the SDK runtime, in main.ts). */
  metricsAddress?: string;
}

/** Runs a sandbox worker until SIGINT/SIGTERM; running steps are aborted on the way out. */
export async function workerCommand(flags: WorkerFlags): Promise<void> {
  // Checked before connecting: a bad policy stops the worker with the field that is wrong.
  const policy = await loadPolicy(flags.policy ? resolve(flags.policy) : undefined, {
    allowMountReadOnly: flags.allowMountRo,
    allowMountReadWrite: flags.allowMountRw,
    allowRootfs: flags.allowRootfs,
    allowNetwork: flags.allowNetwork,
    secretsDir: flags.secretsDir,
    allowWeakRuntime: flags.allowWeakRuntime,
  });
  const { connection, namespace } = await connectWorker(flags);
  // A worker refused at start (its root in use, say) must not stay up on an open connection.
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
    ...(flags.drainTimeout === undefined ? {} : { drainTimeout: flags.drainTimeout }),
  }).catch(async (error: unknown) => {
    await connection.close();
    throw error;
  });
  const sweep = worker.startupSweep;
  console.error(
    `worker ${worker.host}: workflows on ${worker.taskQueue}, containers on ${worker.hostQueue} (aborts on ${worker.controlQueue}), root ${flags.root}` +
      (sweep
        ? `; start-up sweep removed ${sweep.containers.filter((c) => c.action === 'aborted').length} leftover container(s)`
        : '') +
      (flags.metricsAddress ? `; metrics on http://${flags.metricsAddress}/metrics` : ''),
  );
  const running = worker.run();
  announceDrain(worker.host, flags.drainTimeout ?? defaultDrainTimeoutMs);
  // For supervisors (and the bench): the workers are created and start polling now.
  if (flags.json) {
    const { host, taskQueue, hostQueue, controlQueue } = worker;
    console.log(
      JSON.stringify({ ready: true, pid: process.pid, host, taskQueue, hostQueue, controlQueue, sweep }),
    );
  }
  try {
    await running;
  } catch (error) {
    if (!(error instanceof WorkerStopped)) throw error;
    // Half a worker must not stay up: exit for the supervisor to restart us, even when an SDK
    // worker that failed never lets go of its native handles (seen: its run() never settled).
    console.error(`temporal-runsc: worker ${worker.host}: ${error.message}`);
    process.exitCode = workerFaultExitCode;
    setTimeout(() => process.exit(workerFaultExitCode), 2000).unref();
    await withTimeout(connection.close(), 1000);
    return;
  }
  await connection.close();
}

/** Says on stderr, once, that a stop signal came and what happens to the running steps. */
function announceDrain(host: string, drainMs: number): void {
  const say = (signal: NodeJS.Signals) =>
    console.error(
      `worker ${host}: ${signal}: taking no new steps; running steps get up to ${drainMs} ms to finish, then are aborted`,
    );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, say);
}

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((done) => (timer = setTimeout(done, ms)))]);
  clearTimeout(timer);
}
