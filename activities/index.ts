import { hostname } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { type CleanupOptions, type CleanupReport, cleanupHost } from '../src/host/cleanup.js';
import { LiveContainers } from '../src/host/live-containers.js';
import { currentOwner } from '../src/host/owner.js';
import { StepAborts } from '../src/host/step-aborts.js';
import { ImageCache, type ImageCollectReport, type ImagePullEvent } from '../src/image/cache.js';
import { Skopeo } from '../src/image/skopeo.js';
import { publish } from '../src/metrics/events.js';
import type { LogCaps } from '../src/output/log-writer.js';
import { type LogRetention, type LogSweepReport, sweepLogs } from '../src/output/retention.js';
import { PolicyGate } from '../src/policy/admit.js';
import { checkOwnContainer, parseCleanupRequest, type WorkflowOfRun } from '../src/policy/host-requests.js';
import { parsePolicy } from '../src/policy/load.js';
import type { SandboxPolicy, SandboxPolicyInput } from '../src/policy/schema.js';
import { defaultRootfsDir } from '../src/rootfs.js';
import { ContainerNotFound, InvalidRuntimeInput, UnsafeStateRoot } from '../src/runtime/errors.js';
import { Runsc, type RuntimeOptions } from '../src/runtime/index.js';
import type { ContainerState } from '../src/runtime/types.js';
import { ValidationError } from '../src/validation.js';
import { logsDir, sweepWorkspaces, type WorkspaceSweepReport } from '../src/workspace/index.js';
import { parseHostFileSettings } from '../src/workspace/settings.js';
import type { ActivityDeps } from './deps.js';
import { makeReadLog } from './read-log.js';
import { runContainer } from './run-container.js';
import type { RunContainerInput, RunContainerResult } from './types.js';

export { judgeExit } from './exit-policy.js';
export { heartbeatIntervalMs, resultFileInContainer } from './run-container.js';
export * from './types.js';

export interface SandboxActivityOptions {
  /** A Runsc client, or the options to make one (binary, root, platform, network...). */
  runtime?: Runsc | RuntimeOptions;
  /** This host's name, as heartbeats and results report it. Default: the machine's hostname. */
  host?: string;
  /** The task queue that reaches this host's worker (container activities run there). */
  hostQueue: string;
  /** Where attempt workspaces (`runs/`, removed after each attempt) and output logs (`logs/`) live. */
  workDir: string;
  /** Default root filesystem for steps that do not name one. */
  rootfs?: string;
  /** TERM-to-KILL grace when a step is cancelled. Default 2000 ms. */
  graceMs?: number;
  /** Bytes of each stream kept in the result. Default 8 KiB. */
  tailBytes?: number;
  /** Largest `/out/result.json` read back. Default 64 KiB. */
  resultFileMaxBytes?: number;
  /** Bytes of each attempt's output its log keeps from the start and from the end. Default 1 MiB each. */
  logCaps?: Partial<LogCaps>;
  /** Attempt logs older than `maxAgeMs` (default 7 days) or past `maxTotalBytes` (default 1 GiB) are swept. */
  logRetention?: Partial<LogRetention>;
  /** Fixed heartbeat cadence; by default a quarter of the heartbeat timeout, at most 1 s. */
  heartbeatIntervalMs?: number;
  /** Containers this process runs; shared with cleanup so a sweep never hits a live attempt. */
  live?: LiveContainers;
  /**
   * The operator's sandbox policy (src/policy): what steps may mount, run as, use and reach.
   * Default: no mounts, the worker's own rootfs, default limits, no network, no secrets.
   */
  policy?: SandboxPolicy | SandboxPolicyInput;
  /** Called after each image fetch and unpack (a hook for metrics). */
  onImagePull?: (event: ImagePullEvent) => void;
}

/**
 * Builds the container activities for one host, closing over its runtime and settings (the
 * factory pattern of Temporal's samples). Register them on the host's own task queue.
 */
export async function createActivities(options: SandboxActivityOptions) {
  const host = options.host ?? hostname();
  const runtime = options.runtime instanceof Runsc ? options.runtime : new Runsc(options.runtime ?? {});
  const rootfs = options.rootfs ?? defaultRootfsDir();
  const policy = parsePolicy(options.policy);
  const deps: ActivityDeps = {
    runtime,
    host,
    hostQueue: options.hostQueue,
    workDir: options.workDir,
    rootfs,
    graceMs: options.graceMs ?? 2000,
    tailBytes: options.tailBytes ?? 8 * 1024,
    resultFileMaxBytes: options.resultFileMaxBytes ?? 64 * 1024,
    ...parseHostFileSettings({
      logCaps: options.logCaps,
      logRetention: options.logRetention,
    }),
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    live: options.live ?? new LiveContainers(),
    liveLogs: new Map(),
    aborts: new StepAborts(),
    owner: await currentOwner(host),
    policy: await PolicyGate.create({
      policy,
      runtime,
      rootfs,
      workDir: options.workDir,
    }),
    images: await openImageCache(policy, options),
  };
  // At start: what a crashed worker left (mounted `/out`s, bundles, old logs) goes now.
  await sweepHostFiles(deps);

  return {
    runContainer: (input: RunContainerInput): Promise<RunContainerResult> => runContainer(deps, input),

    /**
     * A chunk of one attempt's log, live or after it (`temporal-runsc logs`). Served on the
     * host's control queue with abortStep; see read-log.ts for how the log is found.
     */
    readLog: makeReadLog(deps),

    /**
     * Aborts a step of the calling workflow run that runs here, now: the way a cancelled pipeline
     * reaches its container without waiting for a heartbeat. Served on the host's control queue
     * (controlQueueFor), whose slots containers never fill. Returns at once; the step's own
     * activity runs the abort sequence and ends failed with `StepAborted`.
     */
    async abortStep(input: { step: string }): Promise<{ running: boolean }> {
      const run = Context.current().info.workflowExecution;
      if (!run)
        throw ApplicationFailure.nonRetryable(
          'abortStep aborts a step of its calling workflow: call it from one',
          'InvalidStep',
        );
      return { running: deps.aborts.abort(StepAborts.key({ ...run, step: input.step })) };
    },

    /** Sends a signal through the runtime. A container that is already gone is not an error. */
    async killContainer(input: { containerId: string; signal?: string }): Promise<{ delivered: boolean }> {
      const id = await ownContainerId(runtime, input.containerId, host, callerWorkflow());
      try {
        await runtime.kill(id, input.signal ?? 'KILL', { all: true });
        return { delivered: true };
      } catch (error) {
        if (error instanceof ContainerNotFound) return { delivered: false };
        throw error;
      }
    },

    /** The abort sequence (TERM, grace, KILL, delete --force, confirm): idempotent. */
    async deleteContainer(input: {
      containerId: string;
      graceMs?: number;
    }): Promise<{ gone: boolean; steps: string[] }> {
      const id = await ownContainerId(runtime, input.containerId, host, callerWorkflow());
      if (deps.live.has(id)) {
        throw ApplicationFailure.nonRetryable(
          `${id} belongs to a running attempt on this worker: cancel that instead`,
          'ContainerInUse',
        );
      }
      return runtime.abort(id, { graceMs: input.graceMs ?? deps.graceMs });
    },

    async containerState(input: { containerId: string }): Promise<ContainerState | null> {
      const id = await ownContainerId(runtime, input.containerId, host, callerWorkflow());
      try {
        return await runtime.state(id);
      } catch (error) {
        if (error instanceof ContainerNotFound) return null;
        throw error;
      }
    },

    /**
     * The janitor's sweep: a workflow may set its pace, never what it sweeps (root, prefix, wipe);
     * then attempt workspaces and logs left behind.
     */
    async cleanupHost(input: Omit<CleanupOptions, 'live'> = {}): Promise<HostCleanupReport> {
      const request = refuseInvalid(() => parseCleanupRequest(input));
      const report = await cleanupHost(runtime, { ...request, live: deps.live }).catch((error: unknown) => {
        // The operator's root is refused: no retry can fix that, the operator must.
        if (error instanceof UnsafeStateRoot)
          throw ApplicationFailure.nonRetryable(error.message, 'UnsafeStateRoot');
        throw error;
      });
      const images = await deps.images?.collect().catch(
        (error: Error): ImageCollectReport => ({
          dir: deps.images?.dir ?? '',
          removed: [],
          keptBytes: 0,
          problems: [error.message],
        }),
      );
      return { ...report, ...(await sweepHostFiles(deps)), ...(images ? { images } : {}) };
    },
  };
}

export type SandboxActivities = Awaited<ReturnType<typeof createActivities>>;

/** cleanupHost's report, with what the sweep of the work dir removed. */
export interface HostCleanupReport extends CleanupReport {
  workspaces: WorkspaceSweepReport;
  logs: LogSweepReport;
  /** What the image cache's budget removed (when the policy allows images). */
  images?: ImageCollectReport;
}

/**
 * The host's image cache, when the policy allows any image (otherwise every image is refused
 * at admission and nothing is made): `images.cache.dir`, or `<workDir>/images`.
 */
async function openImageCache(
  policy: SandboxPolicy,
  options: SandboxActivityOptions,
): Promise<ImageCache | undefined> {
  const { images } = policy;
  if (images.registries.length === 0 && images.layouts.length === 0) return undefined;
  return ImageCache.open({
    dir: images.cache.dir ?? join(options.workDir, 'images'),
    skopeo: new Skopeo(images.authFile ? { authFile: images.authFile } : {}),
    maxBytes: images.cache.maxBytes,
    maxAgeMs: images.cache.maxAge,
    maxImageBytes: images.maxImageBytes,
    pullTimeoutMs: images.pullTimeout,
    tagTtlMs: images.tagTtl,
    insecureRegistries: images.plainHttp,
    onPull: (event) => {
      // The worker's metrics (temporal_runsc_image_pulls_total and its duration), then the caller's hook.
      publish('imagePull', {
        durationMs: event.durationMs,
        outcome: event.outcome === 'unpacked' ? 'ok' : 'error',
      });
      options.onImagePull?.(event);
    },
  });
}

/** Attempt workspaces no live worker owns, and logs past their retention. Never throws. */
async function sweepHostFiles(deps: ActivityDeps): Promise<Pick<HostCleanupReport, 'workspaces' | 'logs'>> {
  const inUse = (id: string) => deps.live.has(id);
  const workspaces = await sweepWorkspaces(deps.workDir, { inUse }).catch(
    (error: Error): WorkspaceSweepReport => ({ dir: deps.workDir, removed: [], problems: [error.message] }),
  );
  const logs = await sweepLogs(logsDir(deps.workDir), deps.logRetention, {
    inUse: (name) => inUse(name.replace(/\.log$/, '')),
  }).catch(
    (error: Error): LogSweepReport => ({
      dir: logsDir(deps.workDir),
      removed: [],
      keptFiles: 0,
      keptBytes: 0,
      problems: [error.message],
    }),
  );
  publish('cleanup', {
    findings: {
      workspace: workspaces.removed.length,
      log: logs.removed.length,
      problem: workspaces.problems.length + logs.problems.length,
    },
  });
  return { workspaces, logs };
}

/**
 * A container id from a workflow, accepted only for a container this library made on this host
 * for a step of the calling workflow.
 */
async function ownContainerId(
  runtime: Runsc,
  id: string,
  host: string,
  caller: WorkflowOfRun | undefined,
): Promise<string> {
  try {
    return await checkOwnContainer(runtime, id, host, caller);
  } catch (error) {
    throw asInvalidStep(error);
  }
}

/** The workflow that calls this activity (none when it runs outside one). */
function callerWorkflow(): WorkflowOfRun | undefined {
  const { workflowNamespace, activityNamespace, workflowExecution } = Context.current().info;
  return workflowExecution
    ? { namespace: workflowNamespace ?? activityNamespace, workflowId: workflowExecution.workflowId }
    : undefined;
}

function refuseInvalid<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw asInvalidStep(error);
  }
}

function asInvalidStep(error: unknown): unknown {
  if (error instanceof InvalidRuntimeInput || error instanceof ValidationError)
    return ApplicationFailure.nonRetryable(error.message, 'InvalidStep');
  return error;
}
