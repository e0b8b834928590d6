/**
 * What one step costs on top of the container itself: a one-step /bin/true pipeline, from the
 * client's start call to its result, minus a raw `runsc run` of the same container taken right
 * beside it (order alternating), so each overhead sample is a difference of neighbours.
 *
 * The split comes from the workflow history (server times of each event) plus the client's own
 * clock and the activity's `durationMs` (time inside `Runsc.run`). The parts add up to the whole:
 *
 *   client start -> WorkflowExecutionStarted                               startRpc
 *   -> ActivityTaskScheduled(hostQueue)          (workflow task 1)          firstWorkflowTask
 *   -> ActivityTaskCompleted(hostQueue)          (host pick round trip)     hostQueueActivity
 *   -> ActivityTaskScheduled(runContainer)       (workflow task 2)          secondWorkflowTask
 *
 * When the workflow asks for the host with a local activity (no hostQueue activity events; a
 * MarkerRecorded instead), the pick runs inside workflow task 1, which then ends by scheduling
 * runContainer: firstWorkflowTask covers start -> runContainer scheduled, and the two
 * hostQueue parts are 0.
 *
 *   -> ActivityTaskStarted(runContainer)         (dispatch to host queue)   activityDispatch
 *   -> ... activity body minus durationMs        (ids, mkdir, bundle write,
 *                                                 heartbeat, rm, result file,
 *                                                 completion RPC)           bundleAndBookkeeping
 *   ... durationMs                               (inside Runsc.run)         runtime
 *   -> WorkflowExecutionCompleted                (workflow task 3)          completionWorkflowTask
 *   -> result at the client                      (long poll answers)        resultDelivery
 */
import { type CpuTimes, cpuPer, withCpu } from '../cpu.js';
import { type BenchHarness, inProcessWorkerSettings } from '../harness.js';
import { onlyActivity, optionalActivity, workflowTimeline } from '../history.js';
import type { BenchPlan } from '../options.js';
import { runPipeline, sequentialPipeline, type TimedPipeline } from '../pipelines.js';
import { say } from '../progress.js';
import { countRuntimeCallsPerStep, type RuntimeCallsPerStep } from '../runtime-census.js';
import { median, medianByKey, round, type Summary, summarize } from '../stats.js';

export interface StepSplit {
  startRpc: number;
  firstWorkflowTask: number;
  hostQueueActivity: number;
  secondWorkflowTask: number;
  activityDispatch: number;
  bundleAndBookkeeping: number;
  runtime: number;
  completionWorkflowTask: number;
  resultDelivery: number;
}

export type HostPick = 'activity' | 'local activity';

export function stepSplitLabels(hostPick: HostPick): Record<keyof StepSplit, string> {
  const local = hostPick === 'local activity';
  return {
    startRpc: 'client start call -> WorkflowExecutionStarted',
    firstWorkflowTask: local
      ? 'workflow task 1 with the local hostQueue activity (start -> runContainer scheduled)'
      : 'workflow task 1 (start -> hostQueue scheduled)',
    hostQueueActivity: local
      ? 'hostQueue activity round trip (local: inside workflow task 1)'
      : 'hostQueue activity round trip (scheduled -> completed)',
    secondWorkflowTask: local
      ? 'workflow task 2 (none: the local activity needs no second task)'
      : 'workflow task 2 (hostQueue done -> runContainer scheduled)',
    ...commonLabels,
  };
}

const commonLabels = {
  activityDispatch: 'runContainer dispatch (scheduled -> started)',
  bundleAndBookkeeping: 'runContainer body outside runsc.run (bundle write, heartbeat, rm, completion RPC)',
  runtime: 'inside Runsc.run (durationMs)',
  completionWorkflowTask: 'last workflow task (runContainer done -> workflow completed)',
  resultDelivery: 'workflow completed -> result at the client',
};

export interface StepOverheadResult {
  /** How the workflow picked the step's host (the code under test changed this once). */
  hostPick: HostPick;
  /** Median of (end-to-end - raw run beside it). */
  stepOverheadMs: number;
  endToEndMs: Summary;
  rawRunMs: Summary;
  overheadMs: Summary;
  /** Median of each part; the medians need not add up exactly to the median total. */
  splitMs: StepSplit;
  /**
   * The first and the last workflow task, each split into dispatch (scheduled -> a worker
   * picked it up) and processing (picked up -> completed; the first includes the local
   * hostQueue activity and the workflow's instantiation).
   */
  workflowTaskMs: {
    firstDispatch: number;
    firstProcessing: number;
    lastDispatch: number;
    lastProcessing: number;
  };
  /** Inside Runsc.run minus the raw run beside it: what the runtime client itself adds. */
  runtimeBeyondRawMs: number;
  /** Workflow tasks and signals per one-step run (any signal, none expected, adds a task). */
  workflowTasksPerRun: number;
  signalsPerRun: number;
  historyEventsPerRun: number;
  /** Runs with a workflow task beyond one per activity result plus the first (a signal's, say). */
  signalTaskBeforeCompletion: number;
  /** runsc commands per step, counted through a wrapper in an untimed pass (runtime-census.ts). */
  runtimeCallsPerStep: RuntimeCallsPerStep;
  /** CPU per run: bench process (client + worker), runsc processes, dev server. */
  cpuPerRunMs: { pipeline: CpuTimes; raw: CpuTimes };
  samples: { endToEndMs: number[]; rawRunMs: number[]; split: StepSplit[] };
}

export async function measureStepOverhead(
  harness: BenchHarness,
  plan: BenchPlan,
): Promise<StepOverheadResult> {
  const input = sequentialPipeline('bench-one-step', 1);
  const pipelineCpu: CpuTimes[] = [];
  const rawCpu: CpuTimes[] = [];
  const onePipeline = () => runPipeline(harness.client, input, harness.taskQueue);
  const measuredPipeline = async () => {
    const { value, cpu } = await withCpu(harness.devServerPid, onePipeline);
    pipelineCpu.push(cpu);
    return value;
  };
  const measuredRaw = async () => {
    const { value, cpu } = await withCpu(harness.devServerPid, () => harness.raw.runsc.timedRun());
    rawCpu.push(cpu);
    return value;
  };
  // Warm-up: the first workflow pays for the worker's isolate and the connections' first use.
  for (let i = 0; i < plan.overheadWarmups; i++) {
    await onePipeline();
    await harness.raw.runsc.timedRun();
  }

  const endToEnd: number[] = [];
  const raw: number[] = [];
  const splits: StepSplit[] = [];
  const taskSplits: StepOverheadResult['workflowTaskMs'][] = [];
  const runtimeBeyondRaw: number[] = [];
  let workflowTasks = 0;
  let signals = 0;
  let events = 0;
  let signalTaskEarly = 0;
  let hostPick: HostPick = 'activity';
  for (let round = 0; round < plan.overheadRounds; round++) {
    let run: TimedPipeline;
    let rawMs: number;
    if (round % 2 === 0) {
      rawMs = await measuredRaw();
      run = await measuredPipeline();
    } else {
      run = await measuredPipeline();
      rawMs = await measuredRaw();
    }
    const timeline = await workflowTimeline(run.handle);
    const pick = optionalActivity(timeline, 'hostQueue');
    const step = onlyActivity(timeline, 'runContainer');
    const durationMs = run.result.steps[0]?.durationMs ?? Number.NaN;
    if (step.started === undefined || step.completed === undefined) {
      throw new Error(`incomplete history for ${run.handle.workflowId}`);
    }
    hostPick = pick ? 'activity' : 'local activity';
    // With a local pick, the whole of start -> runContainer scheduled is workflow task 1.
    const pickScheduled = pick?.scheduled ?? step.scheduled;
    const pickCompleted = pick?.completed ?? step.scheduled;
    const closed = timeline.closed ?? Number.NaN;
    splits.push({
      startRpc: timeline.started - run.startedAt,
      firstWorkflowTask: pickScheduled - timeline.started,
      hostQueueActivity: pickCompleted - pickScheduled,
      secondWorkflowTask: step.scheduled - pickCompleted,
      activityDispatch: step.started - step.scheduled,
      bundleAndBookkeeping: step.completed - step.started - durationMs,
      runtime: durationMs,
      completionWorkflowTask: closed - step.completed,
      resultDelivery: run.endedAt - closed,
    });
    const firstTask = timeline.tasks[0];
    const lastTask = timeline.tasks.at(-1);
    taskSplits.push({
      firstDispatch: (firstTask?.started ?? Number.NaN) - (firstTask?.scheduled ?? Number.NaN),
      firstProcessing: (firstTask?.completed ?? Number.NaN) - (firstTask?.started ?? Number.NaN),
      lastDispatch: (lastTask?.started ?? Number.NaN) - (lastTask?.scheduled ?? Number.NaN),
      lastProcessing: (lastTask?.completed ?? Number.NaN) - (lastTask?.started ?? Number.NaN),
    });
    endToEnd.push(run.wallMs);
    raw.push(rawMs);
    runtimeBeyondRaw.push(durationMs - rawMs);
    workflowTasks += timeline.workflowTasks;
    signals += timeline.signals;
    events += timeline.events;
    // The minimum is one task per activity result plus the first; one more means something
    // (a signal) was handled by a task of its own.
    if (timeline.workflowTasks > timeline.activities.length + 1) signalTaskEarly++;
  }

  const runtimeCallsPerStep = await countRuntimeCallsPerStep(harness, {
    host: 'bench-census-host',
    concurrency: inProcessWorkerSettings.maxConcurrentContainers,
  });

  const overheads = endToEnd.map((total, i) => total - (raw[i] as number));
  const result: StepOverheadResult = {
    hostPick,
    stepOverheadMs: round(median(overheads)),
    endToEndMs: summarize(endToEnd),
    rawRunMs: summarize(raw),
    overheadMs: summarize(overheads),
    splitMs: medianByKey(splits),
    workflowTaskMs: medianByKey(taskSplits),
    runtimeBeyondRawMs: round(median(runtimeBeyondRaw)),
    workflowTasksPerRun: round(workflowTasks / plan.overheadRounds, 2),
    signalsPerRun: round(signals / plan.overheadRounds, 2),
    historyEventsPerRun: round(events / plan.overheadRounds, 1),
    signalTaskBeforeCompletion: signalTaskEarly,
    runtimeCallsPerStep,
    cpuPerRunMs: { pipeline: cpuPer(pipelineCpu, pipelineCpu.length), raw: cpuPer(rawCpu, rawCpu.length) },
    samples: {
      endToEndMs: endToEnd.map(Math.round),
      rawRunMs: raw.map(Math.round),
      split: splits.map((s) => medianByKey([s])),
    },
  };
  say(
    `one-step pipeline ${result.endToEndMs.p50} ms end to end, raw ${result.rawRunMs.p50} ms: overhead ${result.stepOverheadMs} ms (median of pairs)`,
  );
  return result;
}
