import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  continueAsNew,
  defineQuery,
  isCancellation,
  patched,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunContainerInput, RunContainerResult } from '../activities/types.js';
import {
  addCounts,
  defaultRecordBudgetBytes,
  emptyReport,
  fitRecords,
  headOf,
  jsonBytes,
  listedWaitingSteps,
  maxRunHistoryBytes,
  maxRunHistoryEvents,
  minimumRecordBudgetBytes,
  namedCulprits,
  payloadBudgetBytes,
  recordErrorChars,
  recordsHardLimitBytes,
  recordTailChars,
  tailOf,
} from './pipeline-records.js';
import {
  findReferences,
  hasReferences,
  resolveArgs,
  resolveData,
  resolveReferences,
  type StepOutcome,
} from './references.js';
import { type HostTarget, pickHere, runOnHosts } from './run-sandboxed.js';
import type {
  PipelineDefaults,
  PipelineInput,
  PipelineResult,
  PipelineRunState,
  PipelineStatusSnapshot,
  RecordsLeftOut,
  StepReport,
  StepSpec,
} from './types.js';
import { parsePipelineInput, parseRunState } from './validate.js';

export const statusQuery = defineQuery<PipelineStatusSnapshot>('status');

/** The patch id of one host pick per parallel group (see sandboxPipeline). */
const onePickPerGroupPatch = 'one-host-pick-per-group';
/** The patch id of a cancelled group waiting for all its members' aborts (groupOutcomes). */
const waitForCancelledGroupPatch = 'wait-for-cancelled-group';
/** The patch id of references as data: shell-quoted in scripts, refused in code (references.ts). */
const referencesAsDataPatch = 'quote-references-in-shell-scripts';
/** The patch id of checking the input with the step schema before anything runs (validate.ts). */
const validateInputPatch = 'validate-input-at-start';
/** The patch id of continuing as new between batches when a run reaches its budget. */
const continueAsNewPatch = 'continue-as-new-between-batches';

/**
 * Runs the pipeline's steps in file order (members of one group in parallel), each in its own
 * container on some host, with Temporal's retries; then the `finally` steps, always, even when
 * the pipeline is cancelled. Ends completed, failed (an ApplicationFailure of type
 * `PipelineFailed` whose details hold the result) or cancelled; an input that cannot run fails
 * it at once (`InvalidPipeline`, naming each bad field).
 *
 * Any length: each step's record is bounded (pipeline-records.ts), and a run whose records,
 * history size or event count reach their budget continues as new between two batches, handing
 * the next run its records, counts and the outcomes later steps refer to (PipelineRunState).
 * The last run's result holds its own records and says what earlier runs recorded (`earlier`);
 * the client joins them (src/client: pipelineResult).
 */
export async function sandboxPipeline(
  rawInput: PipelineInput,
  rawState?: PipelineRunState,
): Promise<PipelineResult> {
  const { workflowId } = workflowInfo();
  // Checked before any command: a malformed input fails the workflow now, non-retryable, instead
  // of failing its workflow task for ever. Patched for first runs (pipelines started before it
  // replay unchecked, as they ran); a continued run was started by this code, always checked.
  const checked = rawState !== undefined || patched(validateInputPatch);
  const input: PipelineInput = checked ? parsePipelineInput(rawInput) : rawInput;
  const state = checked ? parseRunState(rawState) : {};
  const offset = Math.min(state.offset ?? 0, input.steps.length);
  const earlierRuns = state.runs ?? 0;
  const earlierCounts = state.counts ?? {};
  const earlierSteps = Object.values(earlierCounts).reduce((sum, n) => sum + (n ?? 0), 0);
  const mySteps = input.steps.slice(offset);

  const reports = new Map<string, StepReport>();
  for (const step of mySteps) reports.set(step.name, emptyReport(step.name, false));
  for (const step of input.finally ?? []) reports.set(step.name, emptyReport(step.name, true));
  let status: PipelineStatusSnapshot['status'] = 'running';
  const leftOut = (unlisted: number): RecordsLeftOut => ({
    ...(earlierRuns > 0
      ? { earlier: { runs: earlierRuns, steps: earlierSteps, counts: earlierCounts } }
      : {}),
    ...(unlisted > 0 ? { unlisted } : {}),
  });
  /** This run's records: those of steps that ran, and the first few still waiting. */
  const listed = () => {
    const all = [...reports.values()];
    const waiting = all.filter((r) => r.status === 'pending' || r.status === 'skipped');
    const shown = new Set(waiting.slice(0, listedWaitingSteps));
    const steps = fitRecords(
      all.filter((r) => !(r.status === 'pending' || r.status === 'skipped') || shown.has(r)),
      recordsHardLimitBytes,
    );
    return { steps, ...leftOut(waiting.length - shown.size) };
  };

  setHandler(statusQuery, () => ({ workflowId, name: input.name, status, ...listed() }));

  // Asked once, before the first step: a pipeline resolves all its references one way. One that
  // started before references became data goes on substituting them as text, as it began (its
  // history replays so), and a pipeline with no references carries no marker.
  const asData = state.asData ?? (usesReferences(input) && patched(referencesAsDataPatch));
  const results: Record<string, StepOutcome> = { ...state.outcomes };
  const cleanups: Promise<void>[] = [];
  const run = (step: StepSpec, hostPick?: Promise<HostTarget>) =>
    runStep(input, step, reports.get(step.name) as StepReport, results, cleanups, asData, hostPick);

  // What this run's records may take: what is left of the payload budget once the input and the
  // outcomes carried to the next run are counted (outcomes of this run's steps that later steps
  // refer to are carried too: they count with the records).
  const inputBytes = jsonBytes(input);
  const referenced = referencedSteps(input);
  const budget = Math.max(
    minimumRecordBudgetBytes,
    Math.min(
      state.recordBudgetBytes ?? defaultRecordBudgetBytes,
      defaultRecordBudgetBytes,
      payloadBudgetBytes - inputBytes - jsonBytes(results),
    ),
  );
  let recordBytes = 0;
  const overBudget = () => {
    const info = workflowInfo();
    return (
      recordBytes > budget ||
      info.continueAsNewSuggested ||
      (info.historySize ?? 0) > maxRunHistoryBytes ||
      info.historyLength > maxRunHistoryEvents
    );
  };

  let failed = false;
  let cancellation: unknown;
  let next: number | undefined;
  try {
    let index = offset;
    for (const batch of batchesOf(mySteps)) {
      if (failed) break;
      // Between two batches, never inside one (its members run at once). Patched, and asked only
      // when due: runs of older code, which never continued as new, replay as they ran.
      if (index > offset && overBudget() && patched(continueAsNewPatch)) {
        next = index;
        break;
      }
      // The members of a group start together on one host: one local activity picks it for all
      // of them (one per member cost a marker event and an activity task each). Patched, so
      // that groups already running with one pick per member replay as they ran.
      const hostPick = batch.length > 1 && patched(onePickPerGroupPatch) ? pickHere() : undefined;
      const outcomes = await groupOutcomes(batch.map((step) => run(step, hostPick)));
      failed = outcomes.some((ok, i) => !ok && !batch[i]?.continueOnError);
      for (const step of batch) {
        recordBytes += jsonBytes(reports.get(step.name));
        if (referenced.has(step.name)) recordBytes += jsonBytes(results[step.name]);
      }
      index += batch.length;
    }
    if (next !== undefined) {
      // A cancellation that came with the last batch's end is this run's to handle.
      if (CancellationScope.current().consideredCancelled) {
        throw new CancelledFailure('the pipeline was cancelled');
      }
      await Promise.all(cleanups);
      const ran = [...reports.values()].filter((r) => !r.finally && r.status !== 'pending');
      const outcomes = Object.fromEntries(Object.entries(results).filter(([name]) => referenced.has(name)));
      // The next run's input is one payload: the records get what the rest leaves of it.
      const room = Math.max(
        minimumRecordBudgetBytes,
        recordsHardLimitBytes - inputBytes - jsonBytes(outcomes),
      );
      await continueAsNew<typeof sandboxPipeline>(input, {
        offset: next,
        runs: earlierRuns + 1,
        records: fitRecords(ran, room),
        counts: addCounts(earlierCounts, ran),
        outcomes,
        asData,
        ...(state.recordBudgetBytes !== undefined ? { recordBudgetBytes: state.recordBudgetBytes } : {}),
      });
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
  const result: PipelineResult = { workflowId, status, ...listed() };
  if (cancellation) throw cancellation;
  if (status === 'failed') {
    const culprits = [...reports.values()]
      .filter((s) => s.status === 'failed')
      .map((s) => `${s.name} (${headOf(s.error ?? 'failed', 200)})`);
    const more = culprits.length > namedCulprits ? `; and ${culprits.length - namedCulprits} more` : '';
    throw ApplicationFailure.create({
      type: 'PipelineFailed',
      message: `pipeline ${input.name} failed: ${culprits.slice(0, namedCulprits).join('; ')}${more}`,
      details: [result],
      nonRetryable: true,
    });
  }
  return result;
}

/**
 * Runs one step to its end and records it. Resolves true when it succeeded; false when it
 * failed; throws the cancellation when the pipeline was cancelled. The step itself runs as
 * every sandboxed step does (runOnHosts: retries, the abort on cancellation, moves off a lost
 * host); its background work (aborts, lost hosts' cleanup) goes into `cleanups`, which the
 * pipeline awaits at its end.
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
    const outcome = await runOnHosts(
      activityInput,
      {
        timeout: step.timeout ?? defaults.timeout,
        heartbeatTimeout: step.heartbeatTimeout ?? defaults.heartbeatTimeout,
        queueTimeout: defaults.queueTimeout,
        retry,
      },
      {
        ...(hostPick ? { first: hostPick } : {}),
        // A pipeline runs on a sandbox worker: the worker of its task picks (a local activity).
        pick: pickHere,
        onHost: (target) => {
          report.host = target.host;
        },
      },
      cleanups,
    );
    recordResult(report, outcome);
    report.status = 'succeeded';
    results[step.name] = { exitCode: outcome.exitCode, result: outcome.result };
    return true;
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
 * The members' outcomes of a group. On a cancellation, it waits until every member has ended
 * (its container aborted and confirmed gone) before it throws, so that the finally steps never
 * run beside a member still being aborted. Patched, evaluated only then: groups cancelled
 * before this replay as they ran, going on at the first cancelled member.
 */
async function groupOutcomes(members: Promise<boolean>[]): Promise<boolean[]> {
  try {
    return await Promise.all(members);
  } catch (error) {
    if (members.length > 1 && isCancellation(error) && patched(waitForCancelledGroupPatch)) {
      await Promise.allSettled(members);
    }
    throw error;
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
    // Bounded whatever the worker sends: records go into the result and the next run's input.
    stdoutTail: tailOf(outcome.stdoutTail ?? '', recordTailChars),
    stderrTail: tailOf(outcome.stderrTail ?? '', recordTailChars),
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
    report.error = headOf(cause instanceof Error ? cause.message : String(cause), recordErrorChars);
  }
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

/** Steps whose outcome some step or finally step refers to: carried to the next run. */
function referencedSteps(input: PipelineInput): Set<string> {
  const names = new Set<string>();
  for (const step of [...input.steps, ...(input.finally ?? [])]) {
    for (const text of [
      ...(step.args ?? []),
      ...Object.values(step.env ?? {}),
      ...(step.cwd ? [step.cwd] : []),
    ]) {
      for (const reference of findReferences(text).references) names.add(reference.step);
    }
  }
  return names;
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
