/**
 * One sandboxed step, robust, for any workflow: where it runs (a host pick), how long it may take
 * and be retried, the immediate abort when the workflow is cancelled, the move to another host
 * when its host is lost, and the cleanup of what the lost host kept. `sandboxPipeline` runs every
 * step through `runOnHosts` below; `runSandboxed` and `sandboxHost` are the same path for a
 * workflow of one's own.
 *
 * Workflow code: imports only @temporalio/workflow and plain modules, and every change of the
 * commands it emits is behind patched() (the replay test holds the histories).
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  ContainerSpec,
  ExitPolicy,
  RunContainerInput,
  RunContainerResult,
} from '../activities/types.js';
import type { ControlActivities, HostActivities, SharedActivities } from './activities.js';
import { controlQueueFor } from './control-queue.js';
import { stepNamePattern } from './references.js';
import type { DurationInput, RetrySpec, RunHeartbeatLike } from './types.js';
import { checkContainerSpec, invalidStepType } from './validate.js';

/** A host that runs sandboxed steps: its name and its own task queue (the `hostQueue` activity's answer). */
export type HostTarget = Awaited<ReturnType<SharedActivities['hostQueue']>>;

/** The shared task queue of the sandbox workers (`createSandboxWorker`'s and `worker`'s default). */
export const defaultSandboxTaskQueue = 'temporal-runsc';

/** The patch id of aborting running steps through their host's control queue (abortOnCancel). */
const abortThroughControlQueuePatch = 'abort-through-control-queue';
/**
 * The patch id of moving a step whose first attempt no host worker took up (SCHEDULE_TO_START
 * with no heartbeat yet): such a step failed before; now it moves like a step whose host was lost.
 */
const moveWhenNeverPickedUpPatch = 'move-when-never-picked-up';

const defaultTimeout = '10m';
const defaultHeartbeatTimeout = '10s';
const defaultQueueTimeout = '5m';
/** How many times a step moves to another host when its host is lost. */
const maxHostMoves = 3;

/** What runs in the container. `name` names the step in logs, heartbeats, errors and aborts. */
export interface SandboxedSpec extends ContainerSpec {
  /**
   * The step's name (default: the program's file name, `convert` for `/usr/bin/convert`). A
   * cancellation aborts the running steps of the workflow by name: give steps that run at the
   * same time and are cancelled apart names of their own.
   */
  name?: string;
}

/** How a sandboxed step runs: where, how long, how often, which exit codes count. */
export interface SandboxedOptions {
  /**
   * The sandbox workers' shared task queue (their `taskQueue`, `--task-queue`), default
   * `temporal-runsc`. A workflow that runs on it (served by a sandbox worker) picks a host with
   * a local activity, no server round trip; a workflow on a task queue of its own asks a
   * sandbox worker of this queue with an ordinary activity.
   */
  taskQueue?: string;
  /** startToClose of one attempt. Default 10m. */
  timeout?: DurationInput;
  /** How long the worker may go silent before the attempt counts as lost (host lost). Default 10s. */
  heartbeatTimeout?: DurationInput;
  /**
   * How long a step may wait for its host to take it up before it moves to another host (the
   * host is taken for lost); also how long the host pick waits for a sandbox worker. Default 5m.
   */
  queueTimeout?: DurationInput;
  /** Temporal's retry policy of the step, and which exit codes it retries. Default 3 attempts. */
  retry?: RetrySpec;
  /** Exit codes that count as success. Default [0]. */
  exitCodes?: number[];
  /** `never`: every exit code returns as a result, none fails the step. Default `nonzero`. */
  failOn?: ExitPolicy['failOn'];
}

/** What one step of `runOnHosts` needs besides its input: the activity options. */
export interface StepSettings {
  timeout?: DurationInput;
  heartbeatTimeout?: DurationInput;
  queueTimeout?: DurationInput;
  retry?: RetrySpec;
}

/** Where a step runs: its first host (if already picked) and how to pick another. */
export interface Placement {
  first?: Promise<HostTarget> | HostTarget;
  pick(): Promise<HostTarget>;
  /** Told each host the step goes to, before it runs there. */
  onHost?(target: HostTarget): void;
}

/**
 * Runs one sandboxed step to its end, on a host the sandbox workers pick, with Temporal's
 * retries, and returns its result. When the workflow is cancelled, the step's host is told at
 * once (its container is aborted, not at its next heartbeat) and this throws the cancellation
 * once the container is confirmed gone. When the host stops answering (heartbeat or queue
 * timeout), the step moves to another host, up to 3 times, and what the lost host kept is
 * removed through its queue when it answers again (best effort, bounded). Returns after that
 * cleanup (and the abort request, on cancellation) has been tried: a workflow may end right after.
 *
 * What it throws (see `sandboxFailure`, which tells them apart):
 * - the step's exit code failed (not in `exitCodes`), every retry spent: `ActivityFailure`
 *   whose `cause` is an `ApplicationFailure` of type `ContainerExit`, `details[0]` the result;
 * - cancelled: a `CancelledFailure` (`isCancellation(error)`), the container gone;
 * - timed out: `ActivityFailure` whose `cause` is a `TimeoutFailure` (`START_TO_CLOSE`: an
 *   attempt outlasted `timeout`; `HEARTBEAT` / `SCHEDULE_TO_START`: its hosts kept being lost);
 * - refused: `ActivityFailure` of an `InvalidStep` (the spec, or more than the worker's policy
 *   allows; not retried), `StepTimedOut` (the policy's maximum run time), `RuntimeError` (runsc
 *   failed or the sandbox crashed, every retry spent); an `ApplicationFailure` of type
 *   `InvalidStep` thrown at once for a spec that is not one; `NoSandboxWorker` when no sandbox
 *   worker answered the host pick within `queueTimeout`.
 */
export async function runSandboxed(
  spec: SandboxedSpec,
  options: SandboxedOptions = {},
): Promise<RunContainerResult> {
  return runWithOwnBackground(spec, options, hostPicker(options));
}

/** A host kept for several steps: `host.run(spec)` runs each there while it answers. */
export interface SandboxHost {
  /** The host the next step runs on: a step that moved takes the handle with it. */
  readonly target: HostTarget;
  run(spec: SandboxedSpec, options?: SandboxedOptions): Promise<RunContainerResult>;
}

export interface SandboxHostOptions extends SandboxedOptions {
  /** A host picked before (by another workflow, say); default: ask the sandbox workers for one. */
  target?: HostTarget;
}

/**
 * Picks a host (or takes `target`) for several steps: each `run` goes there, with the
 * guarantees and the errors of `runSandboxed`. A step whose host is lost moves, and the later
 * steps follow it to the new host. `options` are the defaults of every run's own.
 */
export async function sandboxHost(options: SandboxHostOptions = {}): Promise<SandboxHost> {
  const { target: given, ...defaults } = options;
  let target = given ?? (await hostPicker(defaults)());
  return {
    get target() {
      return target;
    },
    run(spec, own = {}) {
      const merged = { ...defaults, ...own };
      const picker = hostPicker(merged);
      return runWithOwnBackground(spec, merged, {
        first: target,
        pick: picker,
        onHost: (next) => {
          target = next;
        },
      });
    },
  };
}

async function runWithOwnBackground(
  spec: SandboxedSpec,
  options: SandboxedOptions,
  placement: Placement | (() => Promise<HostTarget>),
): Promise<RunContainerResult> {
  checkStepSpec(spec);
  const { name, ...container } = spec;
  const input: RunContainerInput = {
    ...container,
    step: name ?? programName(spec.args ?? []),
    ...(options.exitCodes ? { exitCodes: options.exitCodes } : {}),
    ...(options.failOn ? { failOn: options.failOn } : {}),
    ...(options.retry?.nonRetryableExitCodes
      ? { nonRetryableExitCodes: options.retry.nonRetryableExitCodes }
      : {}),
    ...(options.retry?.retryableExitCodes ? { retryableExitCodes: options.retry.retryableExitCodes } : {}),
  };
  const background: Promise<void>[] = [];
  try {
    return await runOnHosts(
      input,
      options,
      typeof placement === 'function' ? { pick: placement } : placement,
      background,
    );
  } finally {
    // The abort request and the lost host's cleanup: a workflow that ends drops activities it
    // has not awaited, so they are awaited here, and a cancellation cannot stop them.
    await CancellationScope.nonCancellable(() => Promise.all(background));
  }
}

/**
 * The spec, checked with the one container schema (src/spec) before anything is scheduled: a
 * malformed spec fails the step at once with a non-retryable `InvalidStep` naming each field.
 */
function checkStepSpec(spec: SandboxedSpec): void {
  const { name, ...container } = (spec ?? {}) as SandboxedSpec;
  if (name !== undefined && (typeof name !== 'string' || !stepNamePattern.test(name))) {
    throw ApplicationFailure.create({
      type: invalidStepType,
      message:
        'invalid step:\n  - name: must be 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit',
      nonRetryable: true,
    });
  }
  checkContainerSpec(container);
}

/** `convert` for `/usr/bin/convert`: a step's default name. */
function programName(args: readonly string[]): string {
  return args[0]?.split('/').filter(Boolean).at(-1) || 'sandboxed';
}

/**
 * How this workflow asks for a host. A workflow that runs on a sandbox worker (the worker of
 * this task polls the sandbox queue) asks it with a local activity: no round trip through the
 * server, and a workflow stays on one host while that host lives (its tasks are sticky to one
 * worker). Any other worker has no such activity: a workflow there asks a sandbox worker of the
 * queue with an ordinary activity.
 *
 * The choice is recorded: workflowInfo().taskQueue is the queue of the worker that runs the
 * task, which a replayer (Worker.runReplayHistories) names on its own. So a local choice leaves
 * a marker in the history (once per queue), and a replay follows the marker instead of its own
 * queue's name: a history replays as it ran, wherever it is replayed.
 */
export function hostPicker(
  options: Pick<SandboxedOptions, 'taskQueue' | 'queueTimeout'>,
): () => Promise<HostTarget> {
  const taskQueue = options.taskQueue ?? defaultSandboxTaskQueue;
  const info = workflowInfo();
  const onSandboxWorker = info.unsafe.isReplaying || info.taskQueue === taskQueue;
  if (onSandboxWorker && patched(`${localPickMarker}${taskQueue}`)) return pickHere;
  const queueTimeout = options.queueTimeout ?? defaultQueueTimeout;
  const remote = proxyActivities<SharedActivities>({
    taskQueue,
    startToCloseTimeout: '10s',
    scheduleToStartTimeout: queueTimeout,
    retry: { maximumAttempts: 10, initialInterval: '1s' },
    summary: 'pick a sandbox host',
  });
  return () =>
    remote.hostQueue().catch((error: unknown) => {
      if (
        error instanceof ActivityFailure &&
        error.cause instanceof TimeoutFailure &&
        error.cause.timeoutType === 'SCHEDULE_TO_START'
      ) {
        throw ApplicationFailure.create({
          type: 'NoSandboxWorker',
          message: `no sandbox worker on task queue ${taskQueue} picked a host within ${String(queueTimeout)}: start one there, or pass the sandbox workers' taskQueue`,
          nonRetryable: true,
          cause: error,
        });
      }
      throw error;
    });
}

/** The marker (a patch id) of a local host pick, followed by the sandbox queue's name. */
const localPickMarker = 'temporal-runsc-local-host-pick:';

/**
 * The host pick of a workflow that runs on a sandbox worker, as a pipeline does: the worker
 * that runs this workflow task answers with its own host queue.
 */
export function pickHere(): Promise<HostTarget> {
  return localPick.hostQueue();
}

/** The host pick on a sandbox worker: asked of the worker that runs this workflow task. */
const localPick = proxyLocalActivities<SharedActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 10, initialInterval: '1s' },
});

/**
 * The robust step: runs `input` on a host of `placement` until it ends; moves it when its host
 * is lost. Work that must outlive the step but not hold it up (the abort request on
 * cancellation, the lost host's cleanup) goes into `background`, which the caller awaits
 * before its workflow ends (a pipeline at its end, runSandboxed before it returns).
 */
export async function runOnHosts(
  input: RunContainerInput,
  settings: StepSettings,
  placement: Placement,
  background: Promise<void>[],
): Promise<RunContainerResult> {
  const retry = settings.retry ?? {};
  for (let move = 0; ; move++) {
    // A move goes wherever the workflow runs now, so it always asks again.
    const target = await (move === 0 && placement.first ? placement.first : placement.pick());
    placement.onHost?.(target);
    const host = proxyActivities<HostActivities>({
      taskQueue: target.hostQueue,
      startToCloseTimeout: settings.timeout ?? defaultTimeout,
      heartbeatTimeout: settings.heartbeatTimeout ?? defaultHeartbeatTimeout,
      scheduleToStartTimeout: settings.queueTimeout ?? defaultQueueTimeout,
      // Said explicitly: a cancelled step must wait until the container is confirmed gone.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      summary: input.step,
      retry: {
        maximumAttempts: retry.maximumAttempts ?? 3,
        initialInterval: retry.initialInterval ?? '1s',
        backoffCoefficient: retry.backoffCoefficient ?? 2,
        ...(retry.maximumInterval ? { maximumInterval: retry.maximumInterval } : {}),
        nonRetryableErrorTypes: ['InvalidStep'],
      },
    });
    try {
      const stopWatching = abortOnCancel(target.hostQueue, input.step, background);
      const outcome = await host.runContainer(input).finally(stopWatching);
      if (outcome.previousAttempt?.outcome === 'other-host') {
        background.push(
          cleanupElsewhere(outcome.previousAttempt.hostQueue, outcome.previousAttempt.containerId),
        );
      }
      return outcome;
    } catch (error) {
      if (abortedOnCancel(error)) {
        throw new CancelledFailure(`${input.step}: aborted, the workflow was cancelled`, [], error as Error);
      }
      const lost = move < maxHostMoves ? lostHost(error) : undefined;
      if (lost) {
        log.warn('step lost its host; moving it', { step: input.step, host: target.host });
        if (lost.left) background.push(cleanupElsewhere(lost.left.hostQueue, lost.left.containerId));
        continue;
      }
      throw error;
    }
  }
}

/**
 * When the workflow is cancelled while the step runs, tells the step's host at once, through its
 * control queue: the cancellation itself reaches the activity only with the response to its
 * next heartbeat, which the worker sends at most every 2 s (workerTuning.host). Returns the
 * function that stops watching, for when the step has ended. Patched (on cancellation only, so
 * workflows that are never cancelled carry no marker): histories of pipelines cancelled before
 * this existed replay as they ran.
 */
function abortOnCancel(hostQueue: string, step: string, background: Promise<void>[]): () => void {
  let running = true;
  const scope = CancellationScope.current();
  scope.cancelRequested.catch(() => {
    // A non-cancellable scope (a pipeline's finally steps') hears its parent's cancellation
    // too, but is not cancelled by it.
    if (!running || !scope.consideredCancelled || !patched(abortThroughControlQueuePatch)) return;
    background.push(CancellationScope.nonCancellable(() => requestAbort(hostQueue, step)));
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

/** The step ended because its cancelled workflow asked its host to abort it (abortStep). */
function abortedOnCancel(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === 'StepAborted' &&
    CancellationScope.current().consideredCancelled
  );
}

/**
 * Whether the attempt's host is lost (it stopped heartbeating, or never took the attempt up),
 * and where its container is, if it had one (its last heartbeat says where). A first attempt
 * that no host took up has none: it moves, behind its patch, with nothing to clean.
 */
function lostHost(error: unknown): { left?: RunHeartbeatLike } | undefined {
  if (!(error instanceof ActivityFailure) || !(error.cause instanceof TimeoutFailure)) return undefined;
  const timeout = error.cause;
  if (timeout.timeoutType !== 'SCHEDULE_TO_START' && timeout.timeoutType !== 'HEARTBEAT') {
    return undefined;
  }
  const details = timeout.lastHeartbeatDetails as RunHeartbeatLike | undefined;
  if (details?.containerId) return { left: details };
  if (timeout.timeoutType === 'SCHEDULE_TO_START' && patched(moveWhenNeverPickedUpPatch)) return {};
  return undefined;
}

/** Cleanup on another host's queue: best effort, bounded, never blocking the step's outcome. */
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

/** What a sandboxed step's failure was, told apart (every error runSandboxed throws). */
export type SandboxFailure =
  /** The step ran; its exit code failed it. `result` holds its exit code, signal and output tails. */
  | { type: 'ContainerExit'; message: string; result: RunContainerResult }
  /** The workflow (or the step's scope) was cancelled; the container is gone. */
  | { type: 'Cancelled'; message: string }
  /** An attempt outlasted `timeout` (START_TO_CLOSE), or its hosts kept being lost. */
  | { type: 'Timeout'; message: string; timeoutType: string }
  /**
   * Refused before it ran, the runtime failed, the policy's run time ran out, no sandbox worker,
   * its image could not be fetched (ImageUnavailable: retried) or is not one (InvalidImage).
   */
  | { type: RefusalType; message: string };

const refusalTypes = [
  'InvalidStep',
  'RuntimeError',
  'StepTimedOut',
  'NoSandboxWorker',
  'ImageUnavailable',
  'InvalidImage',
] as const;
type RefusalType = (typeof refusalTypes)[number];

/** Tells a runSandboxed error apart; undefined for an error that is none of them. */
export function sandboxFailure(error: unknown): SandboxFailure | undefined {
  if (isCancellation(error)) return { type: 'Cancelled', message: (error as Error).message };
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof TimeoutFailure) {
    return { type: 'Timeout', message: cause.message, timeoutType: cause.timeoutType ?? 'unknown' };
  }
  if (!(cause instanceof ApplicationFailure)) return undefined;
  if (cause.type === 'ContainerExit') {
    return {
      type: 'ContainerExit',
      message: cause.message,
      result: cause.details?.[0] as RunContainerResult,
    };
  }
  if ((refusalTypes as readonly (string | null | undefined)[]).includes(cause.type)) {
    return { type: cause.type as RefusalType, message: cause.message };
  }
  return undefined;
}
