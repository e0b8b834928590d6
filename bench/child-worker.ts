/**
 * Starts and stops bench/worker-process.ts, and reads its memory from /proc. The worker runs as
 * `node --import tsx`, so its RSS includes tsx's loader; a compiled worker would weigh a little less.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { CleanupReport } from '../src/host/cleanup.js';

export interface ChildWorkerSettings {
  address: string;
  taskQueue: string;
  hostQueue: string;
  host: string;
  root: string;
  workDir: string;
  rootfs: string;
  graceMs: number;
  maxContainers: number;
  workflowsPath: string;
  /** The runtime binary the worker calls; default `runsc`. */
  runtimeCommand?: string;
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export class ChildWorker {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    /** Spawn to "ready": process start, workflow bundling, start-up sweep. */
    readonly startMs: number,
    readonly startupSweep: CleanupReport | undefined,
    readonly exited: Promise<void>,
  ) {}

  static async start(settings: ChildWorkerSettings): Promise<ChildWorker> {
    const startedAt = performance.now();
    const child = spawn('node', ['--import', 'tsx', 'bench/worker-process.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: settings.address,
        TASK_QUEUE: settings.taskQueue,
        HOST_QUEUE: settings.hostQueue,
        HOST_NAME: settings.host,
        RUNSC_ROOT: settings.root,
        WORK_DIR: settings.workDir,
        ROOTFS: settings.rootfs,
        GRACE_MS: String(settings.graceMs),
        MAX_CONTAINERS: String(settings.maxContainers),
        WORKFLOWS_PATH: settings.workflowsPath,
        RUNSC_COMMAND: settings.runtimeCommand ?? '',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const ready = await new Promise<{ sweep?: CleanupReport }>((resolve, reject) => {
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const line = buffered.split('\n').find((l) => l.includes('"ready"'));
        if (line) resolve(JSON.parse(line) as { sweep?: CleanupReport });
      });
      child.once('error', reject);
      void exited.then(() => reject(new Error('the bench worker process exited before it was ready')));
    });
    if (child.pid === undefined) throw new Error('the bench worker process has no pid');
    return new ChildWorker(child, child.pid, performance.now() - startedAt, ready.sweep, exited);
  }

  /** SIGKILL, as a crash: no shutdown, no abort of its containers. Resolves once it is dead. */
  async crash(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (the worker aborts its steps and exits); SIGKILL if it has not exited in 15 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Resident memory now (VmRSS), in MiB. */
  async rssMb(): Promise<number> {
    return (await this.statusKb('VmRSS')) / 1024;
  }

  /** Peak resident memory since the last resetPeak (VmHWM), in MiB. */
  async peakRssMb(): Promise<number> {
    return (await this.statusKb('VmHWM')) / 1024;
  }

  /** Resets VmHWM to the current RSS (`5` to clear_refs, Linux >= 4.0), so peaks are per phase. */
  async resetPeak(): Promise<void> {
    await writeFile(`/proc/${this.pid}/clear_refs`, '5');
  }

  private async statusKb(field: string): Promise<number> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`no ${field} in /proc/${this.pid}/status`);
    return Number(match[1]);
  }
}
