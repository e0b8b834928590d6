/**
 * A sandbox worker in a process of its own is the product's CLI, `temporal-runsc worker --json`,
 * as a user runs it: the bench spawns the compiled CLI, the chaos suite and the integration tests
 * the source through tsx. The settings become CLI arguments here only, and the one JSON "ready"
 * line the CLI prints on stdout once it polls is read here only.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
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
  /** The Temporal namespace; default the CLI's (`default`). */
  namespace?: string;
  /** `--drain-timeout`: how long running steps may finish after SIGTERM; default the CLI's. */
  drainTimeout?: string;
  /** `--metrics-address`: where the worker serves Prometheus metrics; default none. */
  metricsAddress?: string;
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
    ...(settings.namespace ? [`--namespace=${settings.namespace}`] : []),
    ...(settings.drainTimeout ? [`--drain-timeout=${settings.drainTimeout}`] : []),
    ...(settings.metricsAddress ? [`--metrics-address=${settings.metricsAddress}`] : []),
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

export interface WorkerCliProcess {
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote on stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited, with how. */
  exited: Promise<{ exitCode?: number; signal?: string }>;
}

/**
 * Starts `temporal-runsc worker` from source, as a user runs it; resolves with its ready line
 * (rejects, having ended it, when it exits first). `detached`: the worker leads a process group
 * of its own, as a shell's foreground job does, so a test can signal the whole group the way a
 * terminal's Ctrl-C does. The caller ends the process.
 */
export async function startWorkerCli(
  settings: WorkerCliSettings,
  options: { detached?: boolean; what?: string } = {},
): Promise<WorkerCliProcess & { ready: WorkerReadyLine }> {
  const process = spawnWorkerCli(settings, options);
  try {
    const ready = await readyLine(process.child, {
      what: options.what ?? 'the worker process',
      timeoutMs: 90_000,
    });
    return { ...process, ready };
  } catch (error) {
    process.child.kill('SIGKILL');
    await process.exited;
    throw new Error(`${(error as Error).message}; its stderr: ${process.stderr().slice(-2000)}`);
  }
}

/** Starts `temporal-runsc worker` from source without waiting for it (see startWorkerCli). */
export function spawnWorkerCli(
  settings: WorkerCliSettings,
  options: { detached?: boolean } = {},
): WorkerCliProcess {
  const child = execa(globalThis.process.execPath, sourceWorkerNodeArgs(settings), {
    cwd: repoRoot,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    buffer: false,
    // We end it ourselves, with the signal each test needs.
    cleanup: false,
    detached: options.detached ?? false,
  });
  if (child.pid === undefined) throw new Error('cannot start a worker process');
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-64 * 1024);
  });
  const exited = child.then((result) => ({ exitCode: result.exitCode, signal: result.signal }));
  return { child, pid: child.pid, stderr: () => stderr, exited };
}
