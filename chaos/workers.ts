/**
 * Sandbox workers as separate processes (the CLI's `worker --json`, run from source: see
 * test/support/worker-cli.ts), so that a scenario can SIGKILL one the way a host dies, and
 * start it again with the same root and host queue the way that host comes back.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { isAlive } from '../src/host/processes.js';
import {
  readyLine,
  repoRoot,
  sourceWorkerNodeArgs,
  type WorkerReadyLine,
} from '../test/support/worker-cli.js';
import { endChild, trackChild } from './children.js';

export interface WorkerSpec {
  /** The scenario that owns the process (for cleanup on failure). */
  owner: string;
  address: string;
  taskQueue: string;
  host: string;
  hostQueue: string;
  root: string;
  workDir: string;
  rootfs: string;
  /** The worker's stdout and stderr go here (appended: one file per host). */
  logFile: string;
  /** Runtime binary; default real runsc. */
  runtimeCommand?: string;
  maxContainers?: number;
  /** Host paths steps may bind read-write (the sandbox policy). */
  allowMountRw?: string[];
  /** How long start-up (sweep included) may take. Default 90 s. */
  readyTimeoutMs?: number;
}

export interface ReadyLine extends WorkerReadyLine {
  /** From spawn to polling (measured here): process start, the start-up sweep included. */
  startMs: number;
}

export interface WorkerProcess {
  spec: WorkerSpec;
  pid: number;
  ready: ReadyLine;
  /** Resolves when the process has exited, with how. */
  exited: Promise<{ exitCode?: number; signal?: string }>;
  alive(): boolean;
  /** The host dies: SIGKILL, no chance to clean anything. Resolves once it is gone. */
  sigkill(): Promise<void>;
  /** Graceful stop (SIGTERM: running steps are aborted), SIGKILL after 15 s. */
  stop(): Promise<void>;
  /** Peak resident memory so far (VmHWM), in bytes; undefined once exited. */
  peakRssBytes(): Promise<number | undefined>;
}

export async function spawnWorker(spec: WorkerSpec): Promise<WorkerProcess> {
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  await new Promise((resolve) => log.once('open', resolve));
  const startedAt = performance.now();
  const child = execa(
    process.execPath,
    sourceWorkerNodeArgs({
      address: spec.address,
      taskQueue: spec.taskQueue,
      hostQueue: spec.hostQueue,
      host: spec.host,
      root: spec.root,
      workDir: spec.workDir,
      rootfs: spec.rootfs,
      graceMs: 1000,
      maxContainers: spec.maxContainers ?? 8,
      // The hanging-runtime scenario passes a test-only wrapper script here.
      ...(spec.runtimeCommand ? { runtimeCommand: spec.runtimeCommand } : {}),
      ...(spec.allowMountRw ? { allowMountRw: spec.allowMountRw } : {}),
    }),
    {
      cwd: repoRoot,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      reject: false,
      buffer: false,
      // We end it ourselves, with the signal each scenario needs.
      cleanup: false,
    },
  );
  if (child.pid === undefined) throw new Error(`cannot start a worker process for ${spec.host}`);
  const pid = child.pid;
  const exited = child.then((result) => ({ exitCode: result.exitCode, signal: result.signal }));
  trackChild(spec.owner, `worker ${spec.host}`, child, exited);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  void exited.finally(() => log.end());

  const ready: ReadyLine = await readyLine(child, {
    what: `worker ${spec.host}`,
    timeoutMs: spec.readyTimeoutMs ?? 90_000,
  }).then(
    (line) => ({ ...line, startMs: Math.round(performance.now() - startedAt) }),
    async (error: Error) => {
      await endChild(child, exited, { signal: 'SIGKILL' });
      throw new Error(`${error.message}: see ${spec.logFile}`);
    },
  );

  return {
    spec,
    pid,
    ready,
    exited,
    alive: () => isAlive(pid) && child.exitCode === null,
    async sigkill() {
      await endChild(child, exited, { signal: 'SIGKILL' });
    },
    async stop() {
      await endChild(child, exited, { signal: 'SIGTERM', graceMs: 15_000 });
    },
    async peakRssBytes() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      return kib === undefined ? undefined : Number(kib) * 1024;
    },
  };
}
