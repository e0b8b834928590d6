/**
 * Everything the scenarios share, started once and stopped once, also on failure or Ctrl-C:
 * the bench's own Temporal dev server, its own runsc state roots and work folder, a client, and
 * an in-process sandbox worker. `close()` stops what was started (last first), then checks that
 * no container and no runtime process of the bench's roots is left, ending any it finds.
 */
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { type DevServer, startDevServer } from '../src/dev-server.js';
import { ensureBusyboxRootfs } from '../src/rootfs.js';
import { Runsc } from '../src/runtime/index.js';
import { writeWorkflowBundle } from '../src/worker/bundle.js';
import { createSandboxWorker, packagedWorkflowsPath, type SandboxWorker } from '../src/worker/index.js';
import { runscBuilds, runtimeUnderTest } from '../test/support/runsc-builds.js';
import { findDevServerPid } from './cpu.js';
import { say } from './progress.js';
import { RawRuntime } from './raw-runtime.js';
import {
  benchRootsBase,
  benchWorkBase,
  type Leftovers,
  removeRoots,
  runtimeForRoot,
  sweepDeadRuns,
  sweepRoot,
} from './root-sweep.js';
import { sdkLogger } from './sdk-logger.js';

/**
 * Dynamic config of the bench's dev server on top of the library's own (devServerDynamicConfig).
 * Eager activity dispatch is for the floor's bare step only: the library's activities run on
 * host queues, never the workflow's own, so the server cannot hand them out eagerly anyway.
 */
export const benchDevServerDynamicConfig = { 'system.enableActivityEagerExecution': true } as const;

/** The worker settings the scenarios rely on, stated once so the report can quote them. */
export const inProcessWorkerSettings = {
  host: 'bench-host',
  maxConcurrentContainers: 8,
  /** The activities' default TERM-to-KILL grace (SandboxActivityOptions.graceMs). */
  graceMs: 2000,
} as const;

export interface BenchRoots {
  /** The in-process worker's root, shared with the raw runsc runs so both see the same state dir. */
  runsc: string;
  runc: string;
  /** Raw runs of each supported runsc build (bench/scenarios/raw-run.ts), one root per build. */
  rawCurrent: string;
  rawDebian2022: string;
  /** Workers in processes of their own (crash and RSS scenarios) sweep this root at start. */
  workerProcess: string;
}

export class BenchHarness {
  readonly base = join(benchRootsBase, String(process.pid));
  readonly workDir = join(benchWorkBase, String(process.pid));
  readonly roots: BenchRoots = {
    runsc: join(this.base, 'runsc'),
    runc: join(this.base, 'runc'),
    rawCurrent: join(this.base, 'raw-current'),
    rawDebian2022: join(this.base, 'raw-debian2022'),
    workerProcess: join(this.base, 'worker-process'),
  };
  readonly taskQueue = `bench-${process.pid}`;
  rootfs = '';
  /**
   * The workflow code every worker of this run serves, bundled once at start as a deployment
   * would: the crash scenario starts workers minutes later, and if the checkout changed
   * meanwhile, a worker bundling from source would replay running pipelines with other code.
   */
  workflowBundlePath = '';
  address = '';
  /** For CPU accounting (cpu.ts); undefined if it could not be found. */
  devServerPid: number | undefined;
  client!: Client;
  worker!: SandboxWorker;
  raw!: {
    runsc: RawRuntime;
    runc: RawRuntime | undefined;
    /** Each supported runsc build by path, paired with the others in the same rounds. */
    builds: { current: RawRuntime; debian2022: RawRuntime };
  };
  /** The library's runtime client on the in-process worker's root (for state checks). */
  runtime!: Runsc;
  /** Leftovers of earlier runs that were killed, found and removed at start. */
  deadRuns: Awaited<ReturnType<typeof sweepDeadRuns>> | undefined;

  private readonly cleanups: { name: string; run: () => Promise<unknown> }[] = [];
  /** Runs after the audit: the audit needs the roots, and bundles must outlive their containers. */
  private removeFolders: (() => Promise<void>) | undefined;
  private closing: Promise<Leftovers> | undefined;

  /** Runs `run` when the harness closes (last registered, first run). */
  defer(name: string, run: () => Promise<unknown>): void {
    this.cleanups.push({ name, run });
  }

  async start(options: { port: number; runcAvailable: boolean }): Promise<void> {
    // The SDK's own signal handling would shut workers down behind our back on Ctrl-C; the
    // bench handles signals itself (main.ts) so it can clean up in order. Warnings to stderr only.
    Runtime.install({
      logger: sdkLogger(),
      shutdownSignals: [],
      // The SDK's native core would print its own warnings on stdout, into the JSON report.
      telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'WARN' } } },
    });

    this.deadRuns = await sweepDeadRuns();
    if (this.deadRuns.runs.length > 0) {
      say(`removed what killed runs left: ${JSON.stringify(this.deadRuns)}`);
    }
    for (const dir of [...Object.values(this.roots), this.workDir]) await mkdir(dir, { recursive: true });
    this.removeFolders = async () => {
      await rm(this.workDir, { recursive: true, force: true });
      // Swept (and wiped) by sweepRoots already: only empty folders are left to remove.
      await removeRoots(this.base, { containers: [], processes: [] });
    };
    this.rootfs = await ensureBusyboxRootfs();
    say('bundling the workflow code once for every worker of this run');
    this.workflowBundlePath = (
      await writeWorkflowBundle(join(this.workDir, 'workflow-bundle.js'), packagedWorkflowsPath())
    ).path;

    const port = (await portIsFree(options.port)) ? options.port : await anyFreePort();
    say(`starting the Temporal dev server on 127.0.0.1:${port}`);
    const server: DevServer = await startDevServer({
      port,
      headless: true,
      dynamicConfig: benchDevServerDynamicConfig,
    });
    this.defer('stop the dev server', () => server.stop());
    this.address = server.address;
    this.devServerPid = await findDevServerPid(port);

    const connection = await Connection.connect({ address: this.address });
    this.defer('close the client connection', () => connection.close());
    this.client = new Client({ connection });

    const rawOptions = { workDir: this.workDir, rootfs: this.rootfs };
    this.raw = {
      runsc: new RawRuntime({
        kind: 'runsc',
        command: runtimeUnderTest(),
        root: this.roots.runsc,
        ...rawOptions,
      }),
      runc: options.runcAvailable
        ? new RawRuntime({ kind: 'runc', root: this.roots.runc, ...rawOptions })
        : undefined,
      builds: {
        current: new RawRuntime({
          kind: 'runsc',
          label: 'current',
          command: runscBuilds().current,
          root: this.roots.rawCurrent,
          ...rawOptions,
        }),
        debian2022: new RawRuntime({
          kind: 'runsc',
          label: 'debian2022',
          command: runscBuilds().debian2022,
          root: this.roots.rawDebian2022,
          ...rawOptions,
        }),
      },
    };
    this.runtime = new Runsc({ command: runtimeUnderTest(), root: this.roots.runsc, network: 'none' });

    say('starting the in-process sandbox worker');
    const nativeConnection = await NativeConnection.connect({ address: this.address });
    this.defer('close the worker connection', () => nativeConnection.close());
    this.worker = await createSandboxWorker({
      connection: nativeConnection,
      taskQueue: this.taskQueue,
      host: inProcessWorkerSettings.host,
      runtime: this.runtime,
      workDir: join(this.workDir, 'worker'),
      rootfs: this.rootfs,
      graceMs: inProcessWorkerSettings.graceMs,
      maxConcurrentContainers: inProcessWorkerSettings.maxConcurrentContainers,
      workflowBundle: { codePath: this.workflowBundlePath },
    });
    const running = this.worker.run();
    this.defer('stop the in-process worker', async () => {
      this.worker.shutdown();
      await running;
    });
  }

  /** Stops everything (once, however often called) and reports what had to be cleaned up. */
  close(): Promise<Leftovers> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<Leftovers> {
    for (const cleanup of [...this.cleanups].reverse()) await this.attempt(cleanup);
    const leftovers = await this.sweepRoots();
    if (this.removeFolders) await this.attempt({ name: 'remove the bench folders', run: this.removeFolders });
    return leftovers;
  }

  private async attempt(cleanup: { name: string; run: () => Promise<unknown> }): Promise<void> {
    try {
      await withDeadline(cleanup.run(), 30_000, cleanup.name);
    } catch (error) {
      say(`cleanup: could not ${cleanup.name}: ${(error as Error).message}`);
    }
  }

  /**
   * What a user relies on: `list` empty and no runtime process on every root of the bench.
   * Anything found is reported (it is a bug somewhere) and then removed.
   */
  private async sweepRoots(): Promise<Leftovers> {
    const leftovers: Leftovers = { containers: [], processes: [] };
    for (const root of Object.values(this.roots)) await sweepRoot(runtimeForRoot(root), leftovers);
    if (leftovers.containers.length > 0 || leftovers.processes.length > 0) {
      say(`cleanup: the bench left state behind (now removed): ${JSON.stringify(leftovers)}`);
    }
    return leftovers;
  }
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}
