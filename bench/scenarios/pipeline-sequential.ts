/**
 * A sequential pipeline of /bin/true steps against the same number of raw runs back to back,
 * measured in the same round (order alternating): pipeline20Ratio = pipeline wall time over
 * the sum of its neighbouring raw runs (that is, steps x rawRunMs of that round).
 *
 * The wall time is also split from the history, as for the one-step pipeline, into parts that
 * add up to it: the workflow's start and finish (client start -> first step scheduled, last
 * step completed -> result at the client) and, per step, the workflow task between two steps
 * (previous runContainer completed -> next scheduled, host pick included), dispatch, the
 * activity body outside Runsc.run, and Runsc.run itself, compared with the raw runs of the
 * same round. Per-step parts are means over the steps (so that steps x parts + start and
 * finish = wall), then medians over rounds.
 */
import type { BenchHarness } from '../harness.js';
import { workflowTimeline } from '../history.js';
import type { BenchPlan } from '../options.js';
import { runPipeline, sequentialPipeline, type TimedPipeline, warmUp } from '../pipelines.js';
import { say } from '../progress.js';
import { median, medianByKey, round, type Summary, summarize } from '../stats.js';

export interface PerStepSplit {
  /** Once per pipeline: client start -> first step scheduled, plus last step completed -> result. */
  startAndFinishPerPipeline: number;
  /** Previous step's ActivityTaskCompleted -> this step's ActivityTaskScheduled. */
  betweenSteps: number;
  /** ActivityTaskScheduled -> ActivityTaskStarted. */
  dispatch: number;
  /** Activity body outside Runsc.run (bundle write, heartbeat, rm, completion RPC). */
  bookkeeping: number;
  /** Inside Runsc.run (durationMs). */
  runtime: number;
  /** Runsc.run minus the mean raw run of the same round. */
  runtimeBeyondRaw: number;
}

export interface PipelineSequentialResult {
  steps: number;
  /** Median of per-round ratios. */
  ratio: number;
  pipelineWallMs: Summary;
  rawSumMs: Summary;
  /** (pipeline wall - raw sum) / steps, median over rounds. */
  overheadPerStepMs: number;
  /** Mean over steps, then median over rounds. */
  perStepSplitMs: PerStepSplit;
  workflowTasksPerStep: number;
  historyEvents: number;
  samples: { pipelineWallMs: number[]; rawSumMs: number[]; ratio: number[] };
}

export async function measureSequentialPipeline(
  harness: BenchHarness,
  plan: BenchPlan,
): Promise<PipelineSequentialResult> {
  const steps = plan.pipelineSteps;
  const input = sequentialPipeline(`bench-seq-${steps}`, steps);
  const rawSequence = async () => {
    const runs: number[] = [];
    for (let i = 0; i < steps; i++) runs.push(await harness.raw.runsc.timedRun());
    return runs;
  };
  const pipelineRun = () => runPipeline(harness.client, input, harness.taskQueue);

  await warmUp(harness.client, harness.taskQueue);
  const walls: number[] = [];
  const rawSums: number[] = [];
  const splits: PerStepSplit[] = [];
  let workflowTasks = 0;
  let events = 0;
  for (let round = 0; round < plan.pipelineRounds; round++) {
    let run: TimedPipeline;
    let raws: number[];
    if (round % 2 === 0) {
      raws = await rawSequence();
      run = await pipelineRun();
    } else {
      run = await pipelineRun();
      raws = await rawSequence();
    }
    const rawSum = raws.reduce((sum, ms) => sum + ms, 0);
    splits.push(await perStepSplit(run, rawSum / raws.length));
    const timeline = await workflowTimeline(run.handle);
    workflowTasks += timeline.workflowTasks;
    events += timeline.events;
    walls.push(run.wallMs);
    rawSums.push(rawSum);
    say(
      `${steps}-step pipeline round ${round + 1}: ${Math.round(run.wallMs)} ms vs ${Math.round(rawSum)} ms raw`,
    );
  }
  const ratios = walls.map((wall, i) => wall / (rawSums[i] as number));
  const perStep = walls.map((wall, i) => (wall - (rawSums[i] as number)) / steps);
  return {
    steps,
    ratio: round(median(ratios), 3),
    pipelineWallMs: summarize(walls),
    rawSumMs: summarize(rawSums),
    overheadPerStepMs: round(median(perStep)),
    perStepSplitMs: medianByKey(splits),
    workflowTasksPerStep: round(workflowTasks / plan.pipelineRounds / steps, 2),
    historyEvents: round(events / plan.pipelineRounds),
    samples: {
      pipelineWallMs: walls.map(Math.round),
      rawSumMs: rawSums.map(Math.round),
      ratio: ratios.map((r) => round(r, 3)),
    },
  };
}

/** Means over the steps of one run; steps and runContainer activities are in the same order. */
async function perStepSplit(run: TimedPipeline, rawMeanMs: number): Promise<PerStepSplit> {
  const timeline = await workflowTimeline(run.handle);
  const activities = timeline.activities
    .filter((a) => a.type === 'runContainer')
    .sort((a, b) => a.scheduledEventId - b.scheduledEventId);
  const first = activities[0];
  const last = activities.at(-1);
  if (!first || !last?.completed) throw new Error(`no completed steps in ${run.handle.workflowId}`);
  const meanOf = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const durations = activities.map((_, i) => run.result.steps[i]?.durationMs ?? Number.NaN);
  const started = (i: number) => activities[i]?.started ?? Number.NaN;
  const runtime = meanOf(durations);
  return {
    startAndFinishPerPipeline: round(first.scheduled - run.startedAt + (run.endedAt - last.completed)),
    betweenSteps: round(
      meanOf(activities.slice(1).map((a, i) => a.scheduled - (activities[i]?.completed ?? Number.NaN))),
    ),
    dispatch: round(meanOf(activities.map((a, i) => started(i) - a.scheduled))),
    bookkeeping: round(
      meanOf(activities.map((a, i) => (a.completed ?? Number.NaN) - started(i) - (durations[i] as number))),
    ),
    runtime: round(runtime),
    runtimeBeyondRaw: round(runtime - rawMeanMs),
  };
}
