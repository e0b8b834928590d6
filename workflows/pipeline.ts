import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  defineQuery,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunContainerInput, RunContainerResult } from '../activities/types.js';
import type { ControlActivities, HostActivities, SharedActivities } from './activities.js';
import { controlQueueFor } from './control-queue.js';
import {
  hasReferences,
  resolveArgs,
  resolveData,
  resolveReferences,
  type StepOutcome,
} from './references.js';
import type {
  PipelineDefaults,
  PipelineInput,
  PipelineResult,
  PipelineStatusSnapshot,
  RunHeartbeatLike,
  StepReport,
  StepSpec,
} from './types.js';

export const statusQuery = defineQuery<PipelineStatusSnapshot>('status');

/** The patch id of one host pick per parallel group (see sandboxPipeline). */
const onePickPerGroupPatch = 'one-host-pick-per-group';
/** The patch id of aborting running steps through their host's control queue (abortOnCancel). */
const abortThroughControlQueuePatch = 'abort-through-control-queue';
/** The patch id of references as data: shell-quoted in scripts, refused in code (references.ts). */
const referencesAsDataPatch = 'quote-references-in-shell-scripts';

type HostTarget = Awaited<ReturnType<SharedActivities['hostQueue']>>;

const defaultTimeout = '10m';
const defaultHeartbeatTimeout = '10s';
const defaultQueueTimeout = '5m';
/** How many times a step moves to another host when its host is lost. */
const maxHostMoves = 3;

/**
 * Which host runs a step: asked of the worker that runs this workflow task, as a local activity,
 * so it costs no round trip through the server. A pipeline thus stays on one host while that
 * host lives (its workflow tasks are sticky to one worker); pipelines spread across hosts.
 */
const shared = proxyLocalActivities<SharedActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 10, initialInterval: '1s' },
});

/**
 * Runs the pipeline's steps in file order (members of one group in parallel), each in its own
 * container on some host, with Temporal's retries; then the `finally` steps, always, even when
 * the pipeline is cancelled. Ends completed, failed (an ApplicationFailure of type
 * `PipelineFailed` whose details hold the result) or cancelled. History grows by about eight
 * events a step attempt, so pipelines of hundreds of steps stay far below Temporal's limits:
 * no continue-as-new.
 */
export async function sandboxPipeline(input: PipelineInput): Promise<PipelineResult> {
  const { workflowId } = workflowInfo();
  const reports = new Map<string, StepReport>();
  for (const step of input.steps) reports.set(step.name, emptyReport(step.name, false));
  for (const step of input.finally ?? []) reports.set(step.name, emptyReport(step.name, true));
  let status: PipelineStatusSnapshot['status'] = 'running';

  setHandler(statusQuery, () => ({ workflowId, name: input.name, status, steps: [...reports.values()] }));

  // Asked once, before the first step: a pipeline resolves all its references one way. One that
  // started before references became data goes on substituting them as text, as it began (its
  // history replays so), and a pipeline with no references carries no marker.
  const asData = usesReferences(input) && patched(referencesAsDataPatch);
  const results: Record<string, StepOutcome> = {};
  const cleanups: Promise<void>[] = [];
  const run = (step: StepSpec, hostPick?: Promise<HostTarget>) =>
    runStep(input, step, reports.get(step.name) as StepReport, results, cleanups, asData, hostPick);

  let failed = false;
  let cancellation: unknown;
  try {
    for (const batch of batchesOf(input.steps)) {
      if (failed) break;
      // The members of a group start together on one host: one local activity picks it for all
      // of them (one per member cost a marker event and an activity task each). Patched, so
      // that groups already running with one pick per member replay as they ran.
      const hostPick = batch.length > 1 && patched(onePickPerGroupPatch) ? shared.hostQueue() : undefined;
      const outcomes = await Promise.all(batch.map((step) => run(step, hostPick)));
      failed = outcomes.some((ok, i) => !ok && !batch[i]?.continueOnError);
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    cancellation = error;
  }
  for (const report of reports.values()) {
    if (!report.finally && report.status === 'pending') report.status = 'skipped';
  }

  // Like Argo's exit handlers: they run whatever happened, and a cancellation cannot stop them.
  await CancellationScope.nonCancellable(async () => {
    for (const step of input.finally ?? []) await run(step);
    await Promise.all(cleanups);
  });

  const finallyFailed = (input.finally ?? []).some((s) => reports.get(s.name)?.status === 'failed');
  status = cancellation ? 'cancelled' : failed || finallyFailed ? 'failed' : 'completed';
  const result: PipelineResult = { workflowId, status, steps: [...reports.values()] };
  if (cancellation) throw cancellation;
  if (status === 'failed') {
    const culprits = result.steps
      .filter((s) => s.status === 'failed')
      .map((s) => `${s.name} (${s.error ?? 'failed'})`);
    throw ApplicationFailure.create({
      type: 'PipelineFailed',
      message: `pipeline ${input.name} failed: ${culprits.join('; ')}`,
      details: [result],
      nonRetryable: true,
    });
  }
  return result;
}

/**
 * Runs one step to its end and records it. Resolves true when it succeeded; false when it
 * failed; throws the cancellation when the pipeline was cancelled. Retries come from Temporal's
 * retry policy; a step whose host stops answering moves to another host, and the lost host's
 * container is cleaned through that host's queue (best effort, bounded).
 */
async function runStep(
  pipeline: PipelineInput,
  step: StepSpec,
  report: StepReport,
  results: Record<string, StepOutcome>,
  cleanups: Promise<void>[],
  asData: boolean,
  hostPick?: Promise<HostTarget>,
): Promise<boolean> {
  const defaults = pipeline.defaults ?? {};
  const retry = { ...defaults.retry, ...step.retry };
  const resolveText = asData ? resolveData : resolveReferences;
  // No args: the step's image runs its own Entrypoint and Cmd.
  const stepArgs = step.args ?? [];
  const args = asData
    ? resolveArgs(stepArgs, results)
    : { args: stepArgs.map((a) => resolveReferences(a, results)) };
  if ('problem' in args) {
    // The validator refuses this before a pipeline starts; a client that skipped it gets the
    // step failed here, with nothing run. A throw would stall the workflow instead.
    report.status = 'failed';
    report.error = `InvalidStep: args[${args.problem.index}] ${args.problem.message}`;
    results[step.name] = { exitCode: null };
    return false;
  }
  const activityInput: RunContainerInput = {
    step: step.name,
    ...(step.args ? { args: args.args } : {}),
    env: Object.fromEntries(
      Object.entries({ ...defaults.env, ...step.env }).map(([k, v]) => [k, resolveText(v, results)]),
    ),
    // A cwd from a result stays as it is: the activity refuses one that is not absolute or
    // holds "..", before anything runs (InvalidStep).
    ...(step.cwd ? { cwd: resolveText(step.cwd, results) } : {}),
    ...(step.user ? { user: step.user } : {}),
    ...(step.mounts ? { mounts: step.mounts } : {}),
    limits: { ...defaults.limits, ...step.limits },
    ...rootOf(step, defaults),
    // Names only, unresolved: the worker reads the values from its own store.
    ...(step.network ? { network: step.network } : {}),
    ...(step.secrets ? { secrets: step.secrets } : {}),
    ...(step.exitCodes ? { exitCodes: step.exitCodes } : {}),
    ...(retry.nonRetryableExitCodes ? { nonRetryableExitCodes: retry.nonRetryableExitCodes } : {}),
    ...(retry.retryableExitCodes ? { retryableExitCodes: retry.retryableExitCodes } : {}),
  };
  report.status = 'running';
  const startedAt = Date.now();

  try {
    for (let move = 0; ; move++) {
      // A move goes wherever the workflow runs now, so it always asks again.
      const target = await (move === 0 && hostPick ? hostPick : shared.hostQueue());
      report.host = target.host;
      const host = proxyActivities<HostActivities>({
        taskQueue: target.hostQueue,
        startToCloseTimeout: step.timeout ?? defaults.timeout ?? defaultTimeout,
        heartbeatTimeout: step.heartbeatTimeout ?? defaults.heartbeatTimeout ?? defaultHeartbeatTimeout,
        scheduleToStartTimeout: defaults.queueTimeout ?? defaultQueueTimeout,
        // Said explicitly: a cancelled pipeline must wait until the container is confirmed gone.
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary: step.name,
        retry: {
          maximumAttempts: retry.maximumAttempts ?? 3,
          initialInterval: retry.initialInterval ?? '1s',
          backoffCoefficient: retry.backoffCoefficient ?? 2,
          ...(retry.maximumInterval ? { maximumInterval: retry.maximumInterval } : {}),
          nonRetryableErrorTypes: ['InvalidStep'],
        },
      });
      try {
        const stopWatching = abortOnCancel(target.hostQueue, step.name, cleanups);
        const outcome = await host.runContainer(activityInput).finally(stopWatching);
        recordResult(report, outcome);
        report.status = 'succeeded';
        results[step.name] = { exitCode: outcome.exitCode, result: outcome.result };
        if (outcome.previousAttempt?.outcome === 'other-host') {
          cleanups.push(
            cleanupElsewhere(outcome.previousAttempt.hostQueue, outcome.previousAttempt.containerId),
          );
        }
        return true;
      } catch (error) {
        if (abortedOnCancel(error)) {
          throw new CancelledFailure(`${step.name}: aborted, the pipeline was cancelled`, [], error as Error);
        }
        const lost = lostHostHeartbeat(error);
        if (lost && move < maxHostMoves) {
          log.warn('step lost its host; moving it', { step: step.name, host: target.host });
          cleanups.push(cleanupElsewhere(lost.hostQueue, lost.containerId));
          continue;
        }
        throw error;
      }
    }
  } catch (error) {
    if (isCancellation(error)) {
      report.status = 'cancelled';
      report.durationMs = Date.now() - startedAt;
      throw error;
    }
    recordFailure(report, error);
    report.durationMs ??= Date.now() - startedAt;
    results[step.name] = { exitCode: report.exitCode };
    return false;
  }
}

/**
 * When the pipeline is cancelled while the step runs, tells the step's host at once, through its
 * control queue: the cancellation itself reaches the activity only with the response to its
 * next heartbeat, which the worker sends at most every 2 s (workerTuning.host). Returns the
 * function that stops watching, for when the step has ended. Patched (on cancellation only, so
 * pipelines that are never cancelled carry no marker): histories of pipelines cancelled before
 * this existed replay as they ran.
 */
function abortOnCancel(hostQueue: string, step: string, cleanups: Promise<void>[]): () => void {
  let running = true;
  const scope = CancellationScope.current();
  scope.cancelRequested.catch(() => {
    // A non-cancellable scope (the finally steps') hears its parent's cancellation too, but
    // is not cancelled by it.
    if (!running || !scope.consideredCancelled || !patched(abortThroughControlQueuePatch)) return;
    cleanups.push(CancellationScope.nonCancellable(() => requestAbort(hostQueue, step)));
  });
  return () => {
    running = false;
  };
}

/** abortStep on the host's control queue: best effort, bounded; the cancellation still follows. */
async function requestAbort(hostQueue: string, step: string): Promise<void> {
  const control = proxyActivities<ControlActivities>({
    taskQueue: controlQueueFor(hostQueue),
    scheduleToCloseTimeout: '10s',
    retry: { maximumAttempts: 1 },
    summary: `abort ${step}`,
  });
  try {
    await control.abortStep({ step });
  } catch (error) {
    log.warn('could not ask the host to abort a step; its heartbeat brings the cancellation', {
      hostQueue,
      step,
      error: String(error),
    });
  }
}

/** The step ended because its cancelled pipeline asked its host to abort it (abortStep). */
function abortedOnCancel(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === 'StepAborted' &&
    CancellationScope.current().consideredCancelled
  );
}

/** The container of an attempt whose host stopped answering (its last heartbeat says where). */
function lostHostHeartbeat(error: unknown): RunHeartbeatLike | undefined {
  if (!(error instanceof ActivityFailure) || !(error.cause instanceof TimeoutFailure)) return undefined;
  const timeout = error.cause;
  if (timeout.timeoutType !== 'SCHEDULE_TO_START' && timeout.timeoutType !== 'HEARTBEAT') {
    return undefined;
  }
  const details = timeout.lastHeartbeatDetails as RunHeartbeatLike | undefined;
  return details?.containerId ? details : undefined;
}

/** Cleanup on another host's queue: best effort, bounded, never blocking the pipeline's outcome. */
async function cleanupElsewhere(hostQueue: string, containerId: string): Promise<void> {
  const other = proxyActivities<HostActivities>({
    taskQueue: hostQueue,
    scheduleToCloseTimeout: '1m',
    retry: { maximumAttempts: 3 },
    summary: `cleanup ${containerId}`,
  });
  try {
    await other.deleteContainer({ containerId });
  } catch (error) {
    log.warn('could not clean a container on another host', { hostQueue, containerId, error: String(error) });
  }
}

function recordResult(report: StepReport, outcome: RunContainerResult): void {
  Object.assign(report, {
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    attempts: outcome.attempt,
    containerId: outcome.containerId,
    host: outcome.host,
    pid: null,
    durationMs: outcome.durationMs,
    stdoutTail: outcome.stdoutTail,
    stderrTail: outcome.stderrTail,
    ...(outcome.result !== undefined ? { result: outcome.result } : {}),
    ...(outcome.image ? { image: outcome.image } : {}),
  });
}

function recordFailure(report: StepReport, error: unknown): void {
  report.status = 'failed';
  report.pid = null;
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure && cause.details?.[0] && typeof cause.details[0] === 'object') {
    const details = cause.details[0] as Partial<RunContainerResult>;
    if (typeof details.exitCode === 'number') {
      recordResult(report, details as RunContainerResult);
      // Only a ContainerExit carries the step's own exit code. After a RuntimeError (the sandbox
      // crashed, say) the code is runsc's and would pass for the step's: record none.
      if (cause.type !== 'ContainerExit') Object.assign(report, { exitCode: null, signal: null });
    }
  }
  if (cause instanceof TimeoutFailure) {
    report.error = `timed out (${cause.timeoutType ?? 'unknown'})`;
  } else {
    report.error = cause instanceof Error ? cause.message : String(cause);
  }
}

export function emptyReport(name: string, isFinally: boolean): StepReport {
  return {
    name,
    status: 'pending',
    ...(isFinally ? { finally: true } : {}),
    exitCode: null,
    signal: null,
    attempts: 0,
    containerId: null,
    host: null,
    pid: null,
    durationMs: null,
    stdoutTail: '',
    stderrTail: '',
  };
}

/**
 * The step's root: its own `image` or `rootfs`, else the defaults' (one of them: a step's own
 * choice replaces the defaults' other kind). Neither: the worker's own rootfs.
 */
function rootOf(step: StepSpec, defaults: PipelineDefaults): { image?: string; rootfs?: string } {
  if (step.image) return { image: step.image };
  if (step.rootfs) return { rootfs: step.rootfs };
  if (defaults.image) return { image: defaults.image };
  if (defaults.rootfs) return { rootfs: defaults.rootfs };
  return {};
}

/** Whether any step's args, env or cwd refers to a step (so that resolving them can differ). */
function usesReferences(input: PipelineInput): boolean {
  if (Object.values(input.defaults?.env ?? {}).some(hasReferences)) return true;
  return [...input.steps, ...(input.finally ?? [])].some(
    (step) =>
      (step.args ?? []).some(hasReferences) ||
      Object.values(step.env ?? {}).some(hasReferences) ||
      (step.cwd !== undefined && hasReferences(step.cwd)),
  );
}

/** Consecutive steps of one group form a batch that runs in parallel; other steps run alone. */
export function batchesOf(steps: readonly StepSpec[]): StepSpec[][] {
  const batches: StepSpec[][] = [];
  for (const step of steps) {
    const last = batches.at(-1);
    if (step.group && last?.[0]?.group === step.group) last.push(step);
    else batches.push([step]);
  }
  return batches;
}
