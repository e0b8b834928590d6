import { rm } from 'node:fs/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createBundle } from '../src/bundle/create-bundle.js';
import { defaultPath, sandboxMountPoints } from '../src/bundle/oci.js';
import { pidsLimitProblem } from '../src/bundle/spec.js';
import { ownerAnnotation } from '../src/host/owner.js';
import { StepAborts } from '../src/host/step-aborts.js';
import { stepStartProblems } from '../src/host/step-start-checks.js';
import { publish } from '../src/metrics/events.js';
import { StreamCapture } from '../src/output/capture.js';
import type { LogSummary } from '../src/output/log-writer.js';
import type { Admitted } from '../src/policy/admit.js';
import { workflowAnnotation, workflowAnnotationValue } from '../src/policy/host-requests.js';
import { type ContainerIdParts, makeContainerId } from '../src/runtime/container-id.js';
import { RuntimeError } from '../src/runtime/errors.js';
import type { RunResult } from '../src/runtime/runsc.js';
import { startFailureProblem } from '../src/runtime/start-failure.js';
import { runtimePlatform } from '../src/runtime/version.js';
import { maskRunResult, maskSecrets } from '../src/secrets/mask.js';
import { ValidationError } from '../src/validation.js';
import { AttemptWorkspace, WorkspaceError } from '../src/workspace/index.js';
import type { ActivityDeps } from './deps.js';
import { judgeExit } from './exit-policy.js';
import { type PreparedStep, prepareStepRoot } from './image-step.js';
import { parseRunContainerInput } from './input.js';
import type {
  ImageRecordOfRun,
  PreviousAttempt,
  RunContainerInput,
  RunContainerResult,
  RunHeartbeat,
} from './types.js';

/** Where a step may leave a small JSON result for later steps (inside the container). */
export const resultFileInContainer = '/out/result.json';

/** The most of a running step's last line its heartbeat carries (for `run`'s display). */
const lastLineChars = 200;

/**
 * Runs one step in a fresh container and never loses track of it: the container id derives
 * from the attempt, and heartbeats (from the first tick on) carry it with the pid and host;
 * cancellation of any kind aborts it and is rethrown only once the container is confirmed gone;
 * so does a request of the step's workflow through `abortStep` (ending in a non-retryable
 * `StepAborted`); a retry first removes what earlier attempts left here.
 */
export async function runContainer(
  deps: ActivityDeps,
  rawInput: RunContainerInput,
): Promise<RunContainerResult> {
  const context = Context.current();
  const { info } = context;
  const input = validInput(rawInput);
  // The operator's policy decides what of the input reaches the bundle; a refusal starts nothing.
  const admitted = await deps.policy.admit(input, info).catch((error: unknown) => {
    throw refused(error);
  });
  // Neither the input schema nor the policy knows the platform: its pids floor is checked here.
  const pidsProblem = pidsLimitProblem(admitted.bundle.limits.pids, await runtimePlatform(deps.runtime));
  if (pidsProblem)
    throw refused(new ValidationError('step', [{ field: 'limits.pids', message: pidsProblem }]));
  const idParts = {
    namespace: info.workflowNamespace ?? info.activityNamespace,
    workflowId: info.workflowExecution?.workflowId ?? 'standalone',
    runId: info.workflowExecution?.runId ?? 'standalone',
    activityId: info.activityId,
  };
  const containerId = makeContainerId({ ...idParts, attempt: info.attempt });
  const previousAttempt = await recoverPreviousAttempt(
    deps,
    info.heartbeatDetails as RunHeartbeat | undefined,
  );
  await removeEarlierAttempts(deps, idParts, info.attempt, previousAttempt?.containerId);

  // Live before its workspace exists: a sweep (janitor, start-up) never takes it for a leftover.
  deps.live.add(containerId);
  // The operator's maximum run time, whatever timeout the workflow gave the activity.
  const overtime = AbortSignal.timeout(admitted.timeoutMs);
  let attempt: { run: RunResult; result: RunContainerResult };
  let abortRequest: { signal: AbortSignal; unregister(): void } | undefined;
  let prepared: PreparedStep | undefined;
  try {
    // The step's root: its image (fetched, unpacked, config applied) or its rootfs.
    prepared = await prepareStepRoot(
      deps,
      context,
      input,
      admitted,
      firstHeartbeat(deps, input.step, containerId),
      heartbeatIntervalMs(info.heartbeatTimeoutMs, deps.heartbeatIntervalMs),
    ).catch((error: unknown) => {
      throw invalidStep(error);
    });
    // A program or working folder the root lacks (the rootfs, or the image as unpacked): no
    // retry can fix it, and nothing starts.
    const root = prepared.admitted.bundle;
    const startProblems = await stepStartProblems({
      rootfs: root.rootfs,
      args: prepared.input.args,
      cwd: prepared.input.cwd,
      path: root.env.PATH ?? defaultPath,
      mountPoints: [...sandboxMountPoints, '/out', ...root.mounts.map((m) => m.destination)],
    });
    if (startProblems.length > 0) throw invalidStep(new ValidationError('step', startProblems));
    const workspace = await AttemptWorkspace.create(
      { workDir: deps.workDir, outBytes: admitted.outBytes, logCaps: deps.logCaps },
      containerId,
      deps.owner,
      prepared.admitted.bundle.user,
      admitted.mountSources,
    ).catch((error: unknown) => {
      // A source that changed since admission is the input's fault: not retried.
      if (error instanceof ValidationError) throw invalidStep(error);
      throw workspaceFailure(input.step, containerId, deps.host, error);
    });
    try {
      // A cancelled pipeline reaches this step through abortStep, at once; the cancellation
      // itself would arrive only with the response to a heartbeat, which the SDK throttles.
      abortRequest = deps.aborts.register(
        StepAborts.key({
          ...(info.workflowExecution ?? { workflowId: idParts.workflowId, runId: '' }),
          step: input.step,
        }),
      );
      attempt = await runInWorkspace(
        deps,
        context,
        prepared.input,
        workspace,
        abortRequest.signal,
        previousAttempt,
        prepared.admitted,
        overtime,
        prepared.record,
      );
    } finally {
      abortRequest?.unregister();
      await workspace.dispose().catch((error: Error) => {
        context.log.error('attempt workspace left for the sweep', { containerId, error: error.message });
      });
    }
  } finally {
    deps.live.delete(containerId);
    // The sandbox is gone: the image may be collected again.
    await prepared?.use?.release().catch(() => undefined);
  }
  const { run, result } = attempt;

  maskRunResult(result, admitted.maskValues);
  const aborted = context.cancellationSignal.aborted || abortRequest?.signal.aborted === true;
  const verdict = judgeExit(run.exitCode, input);
  publish('step', {
    kind: 'ended',
    durationMs: run.durationMs,
    outcome: aborted
      ? 'aborted'
      : overtime.aborted
        ? 'timed_out'
        : run.runtimeError
          ? 'runtime_failure'
          : verdict.outcome === 'fail'
            ? 'exit_code_failure'
            : 'succeeded',
  });

  if (aborted) {
    if (run.abort && !run.abort.gone) {
      context.log.error('container still listed after abort', { containerId, steps: run.abort.steps });
    }
    if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
    // Reported as a failure: the SDK reports "cancelled" only once the server's cancellation has
    // reached it, which is a heartbeat away. The workflow, being cancelled, records it so.
    throw ApplicationFailure.create({
      type: 'StepAborted',
      message: `${input.step}: aborted at its workflow's request`,
      details: [result],
      nonRetryable: true,
    });
  }
  if (overtime.aborted) {
    throw ApplicationFailure.create({
      type: 'StepTimedOut',
      message: `${input.step}: stopped after ${admitted.timeoutMs} ms, the operator's maximum run time (policy.limits.max.timeout)`,
      details: [result],
      nonRetryable: true,
    });
  }
  if (run.runtimeError) {
    // runsc could not start the step's own program or folder (one under a mount, which the
    // check above leaves to it): the spec's fault, not retried.
    const startProblem = startFailureProblem(run.runtimeError);
    if (startProblem) {
      const message = maskSecrets(startProblem.message, admitted.maskValues);
      throw invalidStep(new ValidationError('step', [{ ...startProblem, message }]));
    }
    throw ApplicationFailure.create({
      type: 'RuntimeError',
      message: `${input.step}: the runtime failed: ${maskSecrets(run.runtimeError, admitted.maskValues)}`,
      details: [result],
    });
  }
  if (verdict.outcome === 'fail') {
    throw ApplicationFailure.create({
      type: 'ContainerExit',
      message: `${input.step} exited with ${run.exitCode}${run.signal ? ` (${run.signal})` : ''}`,
      details: [result],
      nonRetryable: !verdict.retryable,
    });
  }
  return result;
}

/**
 * One attempt inside its workspace: the bundle, the run with its heartbeats, the output (masked,
 * tails, capped log) and the result file. The caller removes the workspace.
 */
/** An attempt's heartbeat as it starts (no output yet): where its container is, and since when. */
function firstHeartbeat(deps: ActivityDeps, step: string, containerId: string): RunHeartbeat {
  return {
    step,
    containerId,
    host: deps.host,
    hostQueue: deps.hostQueue,
    startedAt: new Date().toISOString(),
    stdoutBytes: 0,
    stderrBytes: 0,
  };
}

async function runInWorkspace(
  deps: ActivityDeps,
  context: Context,
  input: RunContainerInput & { args: string[] },
  workspace: AttemptWorkspace,
  abortSignal: AbortSignal,
  previousAttempt: PreviousAttempt | undefined,
  admitted: Admitted,
  overtime: AbortSignal,
  image: ImageRecordOfRun | undefined,
): Promise<{ run: RunResult; result: RunContainerResult }> {
  const { maskValues } = admitted;
  const { info } = context;
  const { containerId } = workspace;
  try {
    await createBundle(workspace.bundleDir, {
      ...admitted.bundle,
      args: input.args,
      cwd: input.cwd,
      // Each source as pinned in the workspace, never the path admitted: runsc would resolve that again.
      mounts: [
        ...admitted.bundle.mounts.map((mount, i) => ({
          ...mount,
          source: workspace.pinnedSources[i] as string,
        })),
        { source: workspace.outDir, destination: '/out', readOnly: false },
      ],
      annotations: {
        [ownerAnnotation]: JSON.stringify(deps.owner),
        'dev.temporal-runsc.step': input.step,
        // Outside a workflow none: no caller of the host-queue activities then matches.
        ...(info.workflowExecution && {
          [workflowAnnotation]: workflowAnnotationValue({
            namespace: info.workflowNamespace ?? info.activityNamespace,
            workflowId: info.workflowExecution.workflowId,
          }),
        }),
      },
      cgroupsPath: `/temporal-runsc/${containerId}`,
    });
  } catch (error) {
    // A half-written config.json may hold secrets already.
    await removeBundle(workspace, context);
    throw invalidStep(error);
  }
  const log = await workspace.openLog().catch(async (error: unknown) => {
    await removeBundle(workspace, context);
    throw workspaceFailure(input.step, containerId, deps.host, error);
  });
  const stdout = new StreamCapture({ tailBytes: deps.tailBytes, maskValues, log, stream: 'stdout' });
  const stderr = new StreamCapture({ tailBytes: deps.tailBytes, maskValues, log, stream: 'stderr' });
  // Readers of the running attempt (`temporal-runsc logs --follow`) read it here until it closes.
  deps.liveLogs.set(containerId, log);

  const heartbeat: RunHeartbeat = {
    ...firstHeartbeat(deps, input.step, containerId),
    // Carried in every heartbeat: the last one is what a retry reads.
    ...(image ? { image } : {}),
  };
  const beat = () => {
    heartbeat.stdoutBytes = stdout.bytes;
    heartbeat.stderrBytes = stderr.bytes;
    // What `run` shows of a running step: its latest line (masked), at no extra server write.
    const latest = stderr.updatedAt > stdout.updatedAt ? stderr : stdout;
    if (latest.updatedAt > 0) heartbeat.lastLine = latest.lastLine(lastLineChars);
    context.heartbeat({ ...heartbeat });
  };
  // The first heartbeat waits for the first tick: a step that ends sooner costs no heartbeat RPC
  // (each is a server write; at concurrency 8 they cost ~17 ms of CPU per step). Nothing is lost:
  // a retry finds earlier attempts' containers by their ids, which derive from the attempt
  // number (removeEarlierAttempts), and a host that dies sweeps its orphans when it returns.
  // No runtime call here either (a `state` per step cost a runsc process each): the pid of
  // `run` is enough to find the container's processes.
  const timer = setInterval(beat, heartbeatIntervalMs(info.heartbeatTimeoutMs, deps.heartbeatIntervalMs));

  let run: RunResult;
  let logSummary: LogSummary = { receivedBytes: 0, droppedBytes: 0 };
  try {
    run = await admitted.runtime.run(containerId, workspace.bundleDir, {
      stdout,
      stderr,
      runtimeLog: workspace.runtimeLogPath,
      signal: AbortSignal.any([context.cancellationSignal, abortSignal, overtime]),
      graceMs: input.graceMs ?? deps.graceMs,
      // Clients read the running container from this heartbeat (pipelineStatus): no signal to
      // the workflow, which cost it a workflow task per step.
      onStart: (pid) => {
        heartbeat.pid = pid;
        publish('step', {
          kind: 'started',
          startLatencyMs: Date.now() - info.currentAttemptScheduledTimestampMs,
        });
      },
    });
  } catch (error) {
    if (error instanceof RuntimeError) {
      // runsc's words may quote the spec (its env, secrets included): masked like the output.
      throw ApplicationFailure.create({
        type: 'RuntimeError',
        message: `${input.step}: ${error.name}: ${maskSecrets(error.message, maskValues)}`,
        details: [
          { containerId, host: deps.host, stderr: maskSecrets(error.stderr, maskValues).slice(-2000) },
        ],
      });
    }
    throw error;
  } finally {
    clearInterval(timer);
    // config.json holds the step's environment: gone as soon as the sandbox is. A failed removal
    // must neither skip closing the log nor hide the run's own error (dispose tries again).
    await removeBundle(workspace, context);
    await Promise.all([stdout.flush(), stderr.flush()]);
    logSummary = await log.close();
    deps.liveLogs.delete(containerId);
  }

  const result: RunContainerResult = {
    step: input.step,
    containerId,
    exitCode: run.exitCode,
    signal: run.signal ?? null,
    durationMs: run.durationMs,
    stdoutTail: stdout.text(),
    stderrTail: stderr.text(),
    stdoutBytes: run.stdoutBytes,
    stderrBytes: run.stderrBytes,
    logPath: workspace.logPath,
    ...(logSummary.error ? { logError: logSummary.error } : {}),
    host: deps.host,
    hostQueue: deps.hostQueue,
    attempt: info.attempt,
    ...(previousAttempt ? { previousAttempt } : {}),
    ...(image ? { image } : {}),
  };
  Object.assign(
    result,
    await workspace.readResult('result.json', deps.resultFileMaxBytes, resultFileInContainer),
  );
  return { run, result };
}

/** Removes the attempt's bundle (its config.json holds the step's env); logs, never throws. */
async function removeBundle(workspace: AttemptWorkspace, context: Context): Promise<void> {
  await rm(workspace.bundleDir, { recursive: true, force: true }).catch((error: Error) => {
    context.log.error('cannot remove the bundle; the workspace dispose tries again', {
      containerId: workspace.containerId,
      error: error.message,
    });
  });
}

/** The workspace could not be made (a planted path, a failed mount): retryable, nothing ran. */
function workspaceFailure(step: string, containerId: string, host: string, error: unknown): Error {
  if (error instanceof ApplicationFailure) return error;
  return ApplicationFailure.create({
    type: 'RuntimeError',
    message: `${step}: ${error instanceof WorkspaceError ? '' : 'cannot prepare the attempt: '}${(error as Error).message}`,
    details: [{ containerId, host }],
  });
}

function validInput(input: RunContainerInput): RunContainerInput {
  try {
    return parseRunContainerInput(input);
  } catch (error) {
    throw refused(error);
  }
}

/** A step refused before anything ran (its input, or the operator's policy): counted, then InvalidStep. */
function refused(error: unknown): Error {
  if (error instanceof ValidationError) publish('step', { kind: 'refused' });
  return invalidStep(error);
}

function invalidStep(error: unknown): Error {
  if (error instanceof ValidationError) {
    return ApplicationFailure.create({
      type: 'InvalidStep',
      message: error.message,
      details: [error.problems],
      nonRetryable: true,
    });
  }
  return error as Error;
}

/**
 * Attempt N must never run beside attempt N-1 on one host: if the last heartbeat names a
 * container here that still exists, it is aborted first. One on another host is reported, so the
 * workflow can send cleanup to that host's queue.
 */
async function recoverPreviousAttempt(
  deps: ActivityDeps,
  details: RunHeartbeat | undefined,
): Promise<PreviousAttempt | undefined> {
  if (!details?.containerId) return undefined;
  const base = { containerId: details.containerId, host: details.host, hostQueue: details.hostQueue };
  if (details.host !== deps.host || details.hostQueue !== deps.hostQueue)
    return { ...base, outcome: 'other-host' };
  if (deps.live.has(details.containerId)) {
    // Same process, and its attempt is still unwinding: its own abort removes it.
    return { ...base, outcome: 'cleaned' };
  }
  if (!(await deps.runtime.exists(details.containerId))) return { ...base, outcome: 'already-gone' };
  const report = await deps.runtime.abort(details.containerId, { graceMs: deps.graceMs });
  Context.current().log.info('removed the previous attempt’s container', {
    containerId: details.containerId,
    steps: report.steps,
  });
  return { ...base, outcome: report.gone ? 'cleaned' : 'cleanup-failed' };
}

/**
 * Removes what earlier attempts of this activity left on this host, found by the ids they had
 * (one per attempt, derived from the attempt number): an attempt whose worker died before its
 * first heartbeat left no details to find it by. Retries run on this host's own queue, so its
 * earlier attempts ran here, unless the workflow moved the step, whose cleanup it routes itself.
 */
async function removeEarlierAttempts(
  deps: ActivityDeps,
  idParts: Omit<ContainerIdParts, 'attempt'>,
  attempt: number,
  alreadyHandled: string | undefined,
): Promise<void> {
  for (let earlier = attempt - 1; earlier >= 1; earlier--) {
    const id = makeContainerId({ ...idParts, attempt: earlier });
    if (id === alreadyHandled || deps.live.has(id) || !(await deps.runtime.hasState(id))) continue;
    const report = await deps.runtime.abort(id, { graceMs: deps.graceMs });
    Context.current().log.info('removed an earlier attempt’s container', {
      containerId: id,
      steps: report.steps,
    });
  }
}

/**
 * When the first heartbeat goes out, and how often the details are refreshed after it: a
 * quarter of the heartbeat timeout, at most 1 s. The SDK sends the first at once and later ones
 * at most every 80% of the heartbeat timeout however often we call it, so the local cadence
 * costs timers, not RPCs. Heartbeats keep the attempt alive and carry other kinds of
 * cancellation (timeouts, pause, reset); a cancelled pipeline reaches its step through abortStep.
 */
export function heartbeatIntervalMs(heartbeatTimeoutMs: number | undefined, configured?: number): number {
  if (configured !== undefined) return configured;
  if (!heartbeatTimeoutMs) return 1000;
  return Math.min(1000, Math.max(50, Math.floor(heartbeatTimeoutMs / 4)));
}
