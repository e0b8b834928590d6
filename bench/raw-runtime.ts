/**
 * The floor every figure is compared with: the runtime binary spawned directly, no library in
 * between. Each run gets a bundle of the same shape the runContainer activity writes (an /out
 * bind mount, a cgroup of its own), written before the clock starts, so that "raw" and
 * "through the library" start the same container and differ only in what the library adds.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createBundle } from '../src/bundle/index.js';

export type RuntimeKind = 'runsc' | 'runc';

export interface RawRuntimeOptions {
  kind: RuntimeKind;
  /** The binary to spawn; default the kind's name from PATH. */
  command?: string;
  /** Goes into container ids, so two builds' runs are told apart in a root. Default the kind. */
  label?: string;
  /** State root of this runtime, only the bench's. */
  root: string;
  /** Where the bundles and /out folders go (removed after each run). */
  workDir: string;
  rootfs: string;
}

export class RawRuntime {
  constructor(private readonly options: RawRuntimeOptions) {}

  get kind(): RuntimeKind {
    return this.options.kind;
  }

  get root(): string {
    return this.options.root;
  }

  get command(): string {
    return this.options.command ?? this.options.kind;
  }

  /** Global flags as the library passes them (no platform: each build's default). */
  private globalArgs(): string[] {
    const args = [`--root=${this.options.root}`];
    if (this.options.kind === 'runsc') args.push('--network=none');
    return args;
  }

  /** Writes a bundle for one run; returns what `run` needs. Not timed. */
  async prepare(args: readonly string[] = ['/bin/true']): Promise<PreparedRun> {
    const id = `trs-bench-raw-${this.options.label ?? this.options.kind}-${randomBytes(5).toString('hex')}`;
    const runDir = join(this.options.workDir, 'raw', id);
    const outDir = join(runDir, 'out');
    await mkdir(outDir, { recursive: true });
    const bundle = await createBundle(join(runDir, 'bundle'), {
      rootfs: this.options.rootfs,
      args: [...args],
      mounts: [{ source: outDir, destination: '/out', readOnly: false }],
      cgroupsPath: `/temporal-runsc/${id}`,
    });
    return { id, runDir, bundle };
  }

  /** `<runtime> run --bundle B id`, attached, stdout/stderr drained; resolves the wall time in ms. */
  async run(prepared: PreparedRun): Promise<number> {
    const startedAt = performance.now();
    const child = spawn(
      this.command,
      [...this.globalArgs(), 'run', '--bundle', prepared.bundle, prepared.id],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.resume();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    const elapsed = performance.now() - startedAt;
    if (code !== 0) {
      throw new Error(`raw ${this.options.kind} run of ${prepared.id} exited ${code}: ${stderr.trim()}`);
    }
    return elapsed;
  }

  async discard(prepared: PreparedRun): Promise<void> {
    await rm(prepared.runDir, { recursive: true, force: true });
  }

  /** Prepare, run, discard: the time of the run alone. */
  async timedRun(args?: readonly string[]): Promise<number> {
    const prepared = await this.prepare(args);
    try {
      return await this.run(prepared);
    } finally {
      await this.discard(prepared);
    }
  }

  /**
   * `count` runs at most `concurrency` at a time, bundles written up front; resolves the wall
   * time from the first spawn to the last exit.
   */
  async timedPool(count: number, concurrency: number): Promise<number> {
    const prepared = await Promise.all(Array.from({ length: count }, () => this.prepare()));
    try {
      const startedAt = performance.now();
      await inPool(prepared, concurrency, (run) => this.run(run));
      return performance.now() - startedAt;
    } finally {
      await Promise.all(prepared.map((run) => this.discard(run)));
    }
  }
}

export interface PreparedRun {
  id: string;
  runDir: string;
  bundle: string;
}

/** Runs `work` over `items` with at most `concurrency` in flight; rejects on the first failure. */
export async function inPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}
