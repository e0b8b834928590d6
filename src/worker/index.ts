import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Duration, MetricMeter } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time.js';
import {
  type NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { createActivities, type SandboxActivityOptions } from '../../activities/index.js';
import { controlQueueFor } from '../../workflows/control-queue.js';
import { type CleanupReport, cleanupHost } from '../host/cleanup.js';
import { LiveContainers } from '../host/live-containers.js';
import { checkStateRoot } from '../host/state-root.js';
import { recordLibraryMetrics } from '../metrics/index.js';
import { checkRuntimeAllowed } from '../policy/admit.js';
import { parsePolicy } from '../policy/load.js';
import { Runsc } from '../runtime/runsc.js';
import { defaultTaskQueue } from '../task-queue.js';
import { bothLocks, lockHostQueue, lockRoot, type RootLock } from './root-lock.js';
import { superviseWorkers } from './supervise.js';

export { defaultTaskQueue } from '../task-queue.js';

/**
 * The worker options that shape a step's latency, apart from the defaults (the bench's floor
 * scenario runs its no-op layout with the same, so that the two compare).
 */
export const workerTuning = {
  shared: {
    // After a worker dies, its pipelines' next tasks wait this long on its sticky queue before
    // any worker may take them (the default, 10 s, dominated crash recovery in the benchmark).
    stickyQueueScheduleToStartTimeout: '2s',
  },
  host: {
    // At most one heartbeat RPC per 2 s (the SDK's own cap is 80% of the heartbeat timeout, or
    // 60 s): each is a server write (two a step cost ~17 ms of CPU at concurrency 8), and a
    // cancelled pipeline reaches its steps through the control queue, not the next heartbeat.
    // Other cancellations (timeouts, pause, reset, a workflow of your own) arrive with it.
    maxHeartbeatThrottleInterval: '2s',
    defaultHeartbeatThrottleInterval: '2s',
  },
} as const;

/** How long a stop lets running steps finish by default: short, a stop must not leave containers. */
export const defaultDrainTimeoutMs = 1000;

/** Slots of the control queue: abortStep returns at once, so a few serve a cancellation storm. */
const controlSlots = 16;

/** The file name of the prebuilt workflow bundle in dist/. */
export const workflowBundleFileName = 'workflow-bundle.js';

export interface SandboxWorkerOptions extends Omit<SandboxActivityOptions, 'hostQueue' | 'live' | 'runtime'> {
  connection: NativeConnection;
  namespace?: string;
  runtime?: Runsc | ConstructorParameters<typeof Runsc>[0];
  /** The shared queue: workflows, and the activity that hands out host queues. */
  taskQueue?: string;
  /**
   * This host's own queue, where its container activities run. Default `<taskQueue>@<host>`.
   * The worker also serves `<hostQueue>-control` (controlQueueFor), where cancelled pipelines
   * ask it to abort their running steps.
   */
  hostQueue?: string;
  /** Containers this worker runs at once. Default 8. */
  maxConcurrentContainers?: number;
  /** Sweep this host's leftovers (cleanupHost) before polling. Default true. */
  sweepOnStart?: boolean;
  /**
   * Drain: how long a shutdown (SIGTERM/SIGINT, shutdown()) lets running steps finish before
   * they are aborted (TERM, grace, KILL, confirmed gone). New steps stop at once. The SDK's
   * shutdownGraceTime of the host's worker. Default 1 s: a worker that stops must not leave
   * containers. The same applies when the worker stops for a fault.
   */
  drainTimeout?: Duration;
  /**
   * Hold an exclusive lock on the runtime root while running (default true): a second worker on
   * the same root is refused at start (RootInUse, naming the holder), since two would sweep and
   * abort each other's containers. Turn it off only where processes share a root knowingly.
   */
  lockRoot?: boolean;
  /**
   * Where the host queues' locks are (default /run/temporal-runsc-queues): while it runs, a
   * worker also holds a lock named by its host queue, and a second worker of this machine on
   * that queue (the same --host with another root) is refused (HostQueueInUse). `lockRoot:
   * false` turns this lock off too: both say "processes of one program share these knowingly",
   * as in-process test workers do (several share a host name).
   */
  queueLockDir?: string;
  /** Workflow code to serve, bundled at start; default this package's workflows. */
  workflowsPath?: string;
  /**
   * Prebuilt workflow code (from `temporal-runsc bundle-workflows` or the SDK's
   * `bundleWorkflowCode`), as Temporal recommends for production: the worker starts faster and
   * never loads the bundler, which is most of its memory (measured: about 100 MiB of RSS).
   * Takes precedence over workflowsPath. Default: the bundle shipped in this package's dist/,
   * when there is one.
   */
  workflowBundle?: WorkflowBundleOption;
  /**
   * Where the library's own metrics (`temporal_runsc_*`, src/metrics) go. Default the SDK
   * runtime's meter: with a Prometheus exporter installed (`worker --metrics-address`) they are
   * served beside the SDK's own; without one they are dropped.
   */
  metricMeter?: MetricMeter;
  /**
   * The SDK's worker interceptors (OpenTelemetry tracing through
   * `@temporalio/interceptors-opentelemetry`, say), given to each of the three workers: activity
   * interceptors see the container activities, abortStep and readLog; `workflowModules` are
   * bundled into the workflow code when it is bundled at start (a prebuilt `workflowBundle` must
   * have been built with them; the SDK warns otherwise).
   */
  interceptors?: WorkerOptions['interceptors'];
}

export interface SandboxWorker {
  host: string;
  taskQueue: string;
  hostQueue: string;
  /** This host's control queue (abortStep), beside its own. */
  controlQueue: string;
  /** What the start-up sweep found and did. */
  startupSweep?: CleanupReport;
  /**
   * Runs the workers until shutdown (SIGINT/SIGTERM, or shutdown()), then drains (drainTimeout).
   * If any of the three stops or fails on its own, the others are stopped too, running steps are
   * aborted, and it rejects with WorkerStopped: the process should exit and be restarted.
   */
  run(): Promise<void>;
  /** Runs the workers until the promise settles, then shuts them down. */
  runUntil<T>(promise: Promise<T>): Promise<T>;
  shutdown(): void;
}

/**
 * One process, workers on three queues, as in Temporal's worker-specific task queues sample: the
 * shared queue (workflows, plus `hostQueue`, which answers with this host's own queue); this
 * host's own queue (the container activities), so that every container of a step, and the
 * cleanup of it, runs on the host that holds its state; and this host's control queue, where
 * aborts of running steps arrive without waiting behind containers for a slot.
 */
export async function createSandboxWorker(options: SandboxWorkerOptions): Promise<SandboxWorker> {
  const host = options.host ?? hostname();
  const taskQueue = options.taskQueue ?? defaultTaskQueue;
  const hostQueue = options.hostQueue ?? `${taskQueue}@${host}`;
  const runtime = options.runtime instanceof Runsc ? options.runtime : new Runsc(options.runtime ?? {});
  const live = new LiveContainers();
  const drainTimeout = options.drainTimeout ?? defaultDrainTimeoutMs;
  const graceMs = options.graceMs ?? 2000;
  // The sandbox policy: a worker it refuses (a bad file, runc without the opt-in) touches nothing.
  const policy = parsePolicy(options.policy);
  checkRuntimeAllowed(runtime, policy);

  // A root that is not a runtime state directory is refused before the lock creates it.
  await checkStateRoot(runtime.stateRoot, runtime.flavor);
  // Before the sweep: the sweep is what two workers on one root would race on.
  const rootLock = options.lockRoot === false ? undefined : await lockRoot(runtime.stateRoot);
  let lock = rootLock;
  // From before the start-up sweep (its findings count) until the workers have stopped.
  const stopMetrics = recordLibraryMetrics(options.metricMeter ?? Runtime.instance().metricMeter);
  try {
    // Then the host queue's: another worker of this machine with another root may serve it.
    if (options.lockRoot !== false) {
      lock = bothLocks(rootLock, await lockHostQueue(hostQueue, { dir: options.queueLockDir }));
    }
    const startupSweep = options.sweepOnStart === false ? undefined : await cleanupHost(runtime, { live });
    const activities = await createActivities({ ...options, host, hostQueue, runtime, live, policy });
    return await createWorkers(options, {
      host,
      taskQueue,
      hostQueue,
      runtime,
      live,
      activities,
      lock,
      startupSweep,
      drainTimeout,
      graceMs,
      stopMetrics,
    });
  } catch (error) {
    stopMetrics();
    await lock?.release();
    throw error;
  }
}

async function createWorkers(
  options: SandboxWorkerOptions,
  made: {
    host: string;
    taskQueue: string;
    hostQueue: string;
    runtime: Runsc;
    live: LiveContainers;
    activities: Awaited<ReturnType<typeof createActivities>>;
    lock: RootLock | undefined;
    startupSweep: CleanupReport | undefined;
    drainTimeout: Duration;
    graceMs: number;
    stopMetrics: () => void;
  },
): Promise<SandboxWorker> {
  const { host, taskQueue, hostQueue, runtime, live, activities, lock, startupSweep, drainTimeout, graceMs } =
    made;

  const shared = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue,
    ...workflowCode(options),
    interceptors: options.interceptors,
    activities: { hostQueue: async () => ({ host, hostQueue }) },
    shutdownGraceTime: '5s',
    ...workerTuning.shared,
  });
  // The host's and control workers run no workflows: their bundle would be empty.
  const activityInterceptors = options.interceptors && { ...options.interceptors, workflowModules: [] };
  const hostWorker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: hostQueue,
    activities,
    interceptors: activityInterceptors,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentContainers ?? 8,
    ...workerTuning.host,
    // The drain: Worker.shutdown() stops polling at once, and running activities are cancelled
    // (each step aborted) only after this long; a step that ends sooner reports its result.
    shutdownGraceTime: drainTimeout,
  });
  const controlQueue = controlQueueFor(hostQueue);
  const controlWorker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: controlQueue,
    interceptors: activityInterceptors,
    // Log reads too (`temporal-runsc logs`): at most 8 of them wait at once (read-log.ts).
    activities: { abortStep: activities.abortStep, readLog: activities.readLog },
    maxConcurrentActivityTaskExecutions: controlSlots,
    maxConcurrentActivityTaskPolls: 2,
    shutdownGraceTime: '1s',
  });

  const workers = [
    { queue: taskQueue, worker: shared },
    { queue: hostQueue, worker: hostWorker },
    { queue: controlQueue, worker: controlWorker },
  ];
  let supervision: ReturnType<typeof superviseWorkers> | undefined;
  const run = async () => {
    if (supervision) throw new Error('the sandbox worker runs already (run() or runUntil() was called)');
    supervision = superviseWorkers(workers, {
      // The host's drain, then the abort of what was still running (TERM, grace, KILL, confirm).
      settleMs: msToNumber(drainTimeout) + graceMs + 10_000,
      // Containers whose activity never got its cancellation (its SDK worker failed outright).
      afterFault: async () => {
        await Promise.all(live.ids().map((id) => runtime.abort(id, { graceMs }).catch(() => undefined)));
      },
      shutdownSignals: Runtime.instance().options.shutdownSignals,
      ...(lock ? { lost: lock.lost } : {}),
    });
    try {
      await supervision.done;
    } finally {
      made.stopMetrics();
      await lock?.release();
    }
  };
  const shutdown = () => {
    if (supervision) supervision.shutdown();
    else for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  return {
    host,
    taskQueue,
    hostQueue,
    controlQueue,
    startupSweep,
    run,
    runUntil: async <T>(promise: Promise<T>) => {
      const running = run();
      try {
        // A worker that dies (a lost namespace, say) ends the wait too, with its error.
        return await Promise.race([promise, running.then(() => promise)]);
      } finally {
        shutdown();
        await running;
      }
    },
    shutdown,
  };
}

/** What to give Worker.create: a prebuilt bundle when there is one, else code to bundle. */
function workflowCode(
  options: Pick<SandboxWorkerOptions, 'workflowBundle' | 'workflowsPath'>,
): { workflowBundle: WorkflowBundleOption } | { workflowsPath: string } {
  if (options.workflowBundle) return { workflowBundle: options.workflowBundle };
  if (options.workflowsPath) return { workflowsPath: options.workflowsPath };
  const packaged = packagedWorkflowBundlePath();
  return packaged ? { workflowBundle: { codePath: packaged } } : { workflowsPath: packagedWorkflowsPath() };
}

/**
 * The bundle `npm run build` writes next to the compiled code (dist/workflow-bundle.js). A
 * checkout run from source has none (and must not pick up a stale one), so it bundles.
 */
export function packagedWorkflowBundlePath(): string | undefined {
  if (!import.meta.url.endsWith('.js')) return undefined;
  const path = fileURLToPath(new URL(`../../${workflowBundleFileName}`, import.meta.url));
  return existsSync(path) ? path : undefined;
}

/** This package's workflow code: the compiled file, or the source when run from a checkout. */
export function packagedWorkflowsPath(): string {
  for (const candidate of ['../../workflows/index.js', '../../workflows/index.ts']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('cannot find the workflows of temporal-runsc next to src/worker: is the package complete?');
}
