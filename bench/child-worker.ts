/**
 * A sandbox worker in a process of its own, for the scenarios that SIGKILL a worker, read its
 * memory or count its runtime calls. It is the compiled CLI, `temporal-runsc worker --json`,
 * as a user deploys it (`npm run bench` builds dist/ first), serving the run's prebuilt
 * workflow bundle. Its memory is read from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { CleanupReport } from '../src/host/cleanup.js';
import { readyLine, type WorkerCliSettings, workerCliArgs } from '../test/support/worker-cli.js';

/** The bench always bounds the worker's containers and serves the run's prebuilt bundle. */
export interface ChildWorkerSettings extends WorkerCliSettings {
  maxContainers: number;
  workflowBundlePath: string;
}

const compiledCli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

/** The CLI's arguments for these settings (kept apart so that the command line can be shown). */
export function workerArgs(settings: ChildWorkerSettings): string[] {
  return [compiledCli, ...workerCliArgs(settings)];
}

/**
 * The node flags the CLI's `#!/usr/bin/env -S node ...` line gives it, so that the worker runs
 * as the installed `temporal-runsc` command does.
 */
async function shebangNodeFlags(): Promise<string[]> {
  const firstLine = (await readFile(compiledCli, 'utf8')).split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env -S node(?<flags>.*)$/.exec(firstLine);
  return match?.groups?.flags?.trim().split(/\s+/).filter(Boolean) ?? [];
}

export class ChildWorker {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    /** Spawn to "ready": process start, loading the bundle, start-up sweep. */
    readonly startMs: number,
    readonly startupSweep: CleanupReport | undefined,
    readonly exited: Promise<void>,
  ) {}

  static async start(settings: ChildWorkerSettings): Promise<ChildWorker> {
    if (!existsSync(compiledCli)) {
      throw new Error(`no compiled CLI at ${compiledCli}: run \`npm run build\` (npm run bench does)`);
    }
    const startedAt = performance.now();
    const child = spawn(process.execPath, [...(await shebangNodeFlags()), ...workerArgs(settings)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const ready = await readyLine(child, { what: 'the bench worker process' });
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
