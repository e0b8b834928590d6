/**
 * A sandbox worker in a process of its own is the product's CLI, `temporal-runsc worker --json`,
 * as a user runs it: the bench spawns the compiled CLI, the chaos suite and the integration tests
 * the source through tsx. The settings become CLI arguments here only, and the one JSON "ready"
 * line the CLI prints on stdout once it polls is read here only.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CleanupReport } from '../../src/host/cleanup.js';
import { runtimeUnderTest } from './runsc-builds.js';

export interface WorkerCliSettings {
  address: string;
  taskQueue: string;
  hostQueue: string;
  host: string;
  root: string;
  workDir: string;
  rootfs: string;
  /** How long an aborted step gets between TERM and KILL. */
  graceMs: number;
  /** Containers at once; default the CLI's (8). */
  maxContainers?: number;
  /** A prebuilt workflow bundle to serve; default the CLI bundles the workflows at start. */
  workflowBundlePath?: string;
  /**
   * The runtime binary the worker calls; default the build under test (runtimeUnderTest). A wrapper script works: its flavor is
   * guessed from its file name (flavorOf in src/runtime/args.ts), which also decides whether the
   * CLI passes `--network`, so a wrapper named `*runsc*` gets the same flags as runsc.
   */
  runtimeCommand?: string;
  /** Host paths steps may bind read-write (the sandbox policy's `--allow-mount-rw`). */
  allowMountRw?: string[];
}

/** What the CLI prints on stdout, as one line, once the worker polls. */
export interface WorkerReadyLine {
  ready: true;
  pid: number;
  host: string;
  taskQueue: string;
  hostQueue: string;
  controlQueue: string;
  /** The start-up sweep's report (absent when there was none). */
  sweep?: CleanupReport;
}

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const sourceCli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** The `worker` command's arguments for these settings, after the CLI's script. */
export function workerCliArgs(settings: WorkerCliSettings): string[] {
  return [
    'worker',
    '--json',
    '--log-level=WARN',
    `--address=${settings.address}`,
    `--task-queue=${settings.taskQueue}`,
    `--host-queue=${settings.hostQueue}`,
    `--host=${settings.host}`,
    `--runtime=${settings.runtimeCommand ?? runtimeUnderTest()}`,
    `--root=${settings.root}`,
    '--network=none',
    `--work-dir=${settings.workDir}`,
    `--rootfs=${settings.rootfs}`,
    `--grace-ms=${settings.graceMs}`,
    ...(settings.maxContainers === undefined ? [] : [`--concurrency=${settings.maxContainers}`]),
    ...(settings.workflowBundlePath ? [`--workflow-bundle=${settings.workflowBundlePath}`] : []),
    ...(settings.allowMountRw ?? []).map((path) => `--allow-mount-rw=${path}`),
  ];
}

/**
 * Node's arguments to run the worker from source (`node --import tsx src/cli/main.ts worker ...`),
 * with `repoRoot` as the working directory (where tsx resolves): no build needed.
 */
export function sourceWorkerNodeArgs(settings: WorkerCliSettings): string[] {
  return ['--import', 'tsx', sourceCli, ...workerCliArgs(settings)];
}

/**
 * The worker's ready line, read from its stdout. Rejects when the process fails to start or
 * exits first, or after `timeoutMs` (no deadline when unset); the caller ends the process.
 */
export function readyLine(
  child: ChildProcess,
  options: { what: string; timeoutMs?: number },
): Promise<WorkerReadyLine> {
  const { what, timeoutMs } = options;
  return new Promise<WorkerReadyLine>((resolve, reject) => {
    let buffered = '';
    let timer: NodeJS.Timeout | undefined;
    const settle = (done: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      done();
    };
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      // Whole lines only: a chunk may end inside one.
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      const line = lines.find((l) => l.startsWith('{"ready"'));
      if (line) settle(() => resolve(JSON.parse(line) as WorkerReadyLine));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      settle(() =>
        reject(new Error(`${what} exited before it was ready (${JSON.stringify({ code, signal })})`)),
      );
    const onError = (error: Error) =>
      settle(() => reject(new Error(`${what} did not start: ${error.message}`)));
    if (!child.stdout) {
      reject(new Error(`${what}: its stdout is not piped`));
      return;
    }
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () => settle(() => reject(new Error(`${what} not ready within ${timeoutMs} ms`))),
        timeoutMs,
      );
    }
  });
}
