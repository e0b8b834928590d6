/**
 * Sandbox workers as separate processes (chaos/worker-process.ts), so that a scenario can
 * SIGKILL one the way a host dies, and start it again with the same root and host queue the
 * way that host comes back.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { CleanupReport } from '../src/host/cleanup.js';
import { isAlive } from '../src/host/processes.js';
import { endChild, trackChild } from './children.js';

const workerScript = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

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
  /** How long start-up (sweep included) may take. Default 90 s. */
  readyTimeoutMs?: number;
}

export interface ReadyLine {
  ready: true;
  pid: number;
  /** From process start to polling, the start-up sweep included. */
  startMs: number;
  sweep?: CleanupReport;
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
  const child = execa(process.execPath, ['--import', 'tsx', workerScript], {
    cwd: repoRoot,
    env: {
      TEMPORAL_ADDRESS: spec.address,
      TASK_QUEUE: spec.taskQueue,
      HOST_QUEUE: spec.hostQueue,
      HOST_NAME: spec.host,
      RUNSC_ROOT: spec.root,
      WORK_DIR: spec.workDir,
      ROOTFS: spec.rootfs,
      RUNSC_COMMAND: spec.runtimeCommand ?? '',
      MAX_CONTAINERS: String(spec.maxContainers ?? 8),
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    buffer: false,
    // We end it ourselves, with the signal each scenario needs.
    cleanup: false,
  });
  if (child.pid === undefined) throw new Error(`cannot start a worker process for ${spec.host}`);
  const pid = child.pid;
  const exited = child.then((result) => ({ exitCode: result.exitCode, signal: result.signal }));
  trackChild(spec.owner, `worker ${spec.host}`, child, exited);
  child.stderr?.pipe(log, { end: false });
  void exited.finally(() => log.end());

  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`worker ${spec.host} not ready within ${spec.readyTimeoutMs ?? 90_000} ms`)),
      spec.readyTimeoutMs ?? 90_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      buffered += chunk.toString();
      for (const line of buffered.split('\n').slice(0, -1)) {
        if (!line.startsWith('{"ready"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as ReadyLine);
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(
        new Error(
          `worker ${spec.host} exited before it was ready (${JSON.stringify(how)}): see ${spec.logFile}`,
        ),
      );
    });
  }).catch(async (error: Error) => {
    await endChild(child, exited, { signal: 'SIGKILL' });
    throw error;
  });

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
