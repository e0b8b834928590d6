/**
 * What a scenario works with: its own runsc roots, work folder, task queue and workflow ids,
 * worker processes it can kill, pipelines the audit will check, and a teardown that ends
 * everything it started and removes its roots whatever happened.
 */
import { appendFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { type AuditReport, audit } from './audit.js';
import { endChildren, trackChild } from './children.js';
import { settleAll, startTracked, type TrackedPipeline } from './pipelines.js';
import type { Random } from './random.js';
import type { ChaosServer } from './server.js';
import type { ChaosPipeline } from './steps.js';
import { sweepAndRemoveRoot } from './teardown.js';
import { spawnWorker, type WorkerProcess, type WorkerSpec } from './workers.js';

/** What every scenario of one suite run shares. */
export interface SuiteEnv {
  server: ChaosServer;
  rootfs: string;
  /** Parent of every scenario's runsc roots, e.g. `/run/temporal-runsc-chaos/<pid>`. */
  rootBase: string;
  /** Parent of every scenario's work folder, under /tmp. */
  workBase: string;
  /** Short and unique per suite run: starts every workflow id, hence every container id. */
  runTag: string;
  seed: number;
}

export class ScenarioContext {
  readonly workDir: string;
  readonly taskQueue: string;
  /** Every workflow id of the scenario starts with this; container ids with `trs-` + this. */
  readonly idPrefix: string;
  readonly pipelines: TrackedPipeline[] = [];
  private readonly roots = new Set<string>();
  private readonly workers = new Set<WorkerProcess>();
  private workflowCount = 0;

  constructor(
    readonly env: SuiteEnv,
    readonly name: string,
    readonly random: Random,
    /** Aborted on Ctrl-C or when the scenario runs out of time: long waits should give up. */
    readonly signal: AbortSignal,
  ) {
    this.workDir = join(env.workBase, name);
    this.taskQueue = `chaos-${env.runTag}-${name}`;
    this.idPrefix = `${env.runTag}-${name}`;
  }

  get containerPrefix(): string {
    return `trs-${this.idPrefix}-`;
  }

  get client() {
    return this.env.server.client;
  }

  /** A fresh runsc state root of this scenario (one per simulated host). */
  async root(host: string): Promise<string> {
    const root = join(this.env.rootBase, `${this.name}-${host}`);
    await mkdir(root, { recursive: true });
    this.roots.add(root);
    return root;
  }

  allRoots(): string[] {
    return [...this.roots];
  }

  /** The queue of one simulated host's container activities. */
  hostQueueOf(host: string): string {
    return `${this.taskQueue}@${host}`;
  }

  /** Starts (or restarts: same host, root and queue) a worker process for one simulated host. */
  async startWorker(
    host: string,
    root: string,
    extra: Partial<Pick<WorkerSpec, 'runtimeCommand' | 'maxContainers' | 'readyTimeoutMs'>> = {},
  ): Promise<WorkerProcess> {
    this.signal.throwIfAborted();
    const workDir = join(this.workDir, host);
    await mkdir(workDir, { recursive: true });
    const worker = await spawnWorker({
      owner: this.name,
      address: this.env.server.address,
      taskQueue: this.taskQueue,
      host,
      hostQueue: this.hostQueueOf(host),
      root,
      workDir,
      rootfs: this.env.rootfs,
      logFile: join(this.workDir, `worker-${host}.log`),
      // The one folder scenarios mount into steps (hangsOnFirstAttempt's /state).
      allowMountRw: [join(this.workDir, 'state')],
      ...extra,
    });
    this.workers.add(worker);
    void worker.exited.then(() => this.workers.delete(worker));
    this.note(`worker ${host} pid ${worker.pid} ready in ${worker.ready.startMs} ms`);
    return worker;
  }

  /** Starts a pipeline on the scenario's task queue; the audit will check its exit codes. */
  async startPipeline(pipeline: ChaosPipeline, resultDeadlineMs = 5 * 60_000): Promise<TrackedPipeline> {
    this.signal.throwIfAborted();
    const workflowId = `${this.idPrefix}-${++this.workflowCount}`;
    const tracked = await startTracked(this.client, pipeline, {
      workflowId,
      taskQueue: this.taskQueue,
      resultDeadlineMs,
      signal: this.signal,
    });
    this.pipelines.push(tracked);
    return tracked;
  }

  /** Waits until every pipeline the scenario started has closed. */
  settlePipelines(timeoutMs = 5 * 60_000, pipelines: readonly TrackedPipeline[] = this.pipelines) {
    return settleAll(pipelines, timeoutMs);
  }

  /** Runs a helper process (a lock holder, a `runsc run`) that teardown will end. */
  spawnHelper(label: string, command: string, args: string[]) {
    const child = execa(command, args, { reject: false, stdin: 'ignore', cleanup: false });
    trackChild(
      this.name,
      label,
      child,
      child.then((r) => r),
    );
    return child;
  }

  /** The end-of-scenario audit, over every root and pipeline of the scenario. */
  audit(options: { settleMs?: number; pipelines?: readonly TrackedPipeline[] } = {}): Promise<AuditReport> {
    return audit(
      {
        roots: this.allRoots(),
        containerPrefix: this.containerPrefix,
        pipelines: options.pipelines ?? this.pipelines,
        workerPids: [...this.workers].map((worker) => worker.pid),
      },
      options,
    );
  }

  /** A line in the scenario's own log (kept in its work folder when it fails). */
  note(text: string): void {
    try {
      appendFileSync(join(this.workDir, 'scenario.log'), `${new Date().toISOString()} ${text}\n`);
    } catch {
      // The work folder is gone (teardown): nothing left to note.
    }
  }

  /**
   * Ends every process of the scenario (workers gracefully first), sweeps and removes its roots,
   * and removes its work folder unless asked to keep it. Never throws: it reports.
   */
  async teardown(options: { keepWorkDir: boolean }): Promise<string[]> {
    const problems: string[] = [];
    // Pipelines a failed scenario left open would run on in the server: end them first.
    const open = this.pipelines.filter((p) => !p.result);
    await Promise.all(open.map((p) => p.handle.terminate('chaos scenario over').catch(() => undefined)));
    await Promise.all([...this.workers].map((worker) => worker.stop()));
    await endChildren(this.name);
    for (const root of this.roots) {
      problems.push(...(await sweepAndRemoveRoot(root, this.containerPrefix)));
    }
    if (!options.keepWorkDir) await rm(this.workDir, { recursive: true, force: true });
    return problems;
  }

  async prepare(): Promise<void> {
    await rm(this.workDir, { recursive: true, force: true });
    await mkdir(this.workDir, { recursive: true });
  }
}
