/**
 * Pipelines of many sequential /bin/true steps (`--long-steps 10,1000`, default): wall time per
 * step at each length, how many workflow runs it took (continue-as-new between batches), and the
 * largest history of a run. Opt-in (`--only long`): 1,000 steps take minutes, 10,000 an hour.
 *
 *   npm run bench -- --only long --long-steps 10000
 */
import proto from '@temporalio/proto';
import type { BenchHarness } from '../harness.js';
import type { BenchPlan } from '../options.js';
import { runPipeline, sequentialPipeline, warmUp } from '../pipelines.js';
import { say } from '../progress.js';
import { round } from '../stats.js';

export interface LongPipelineRun {
  steps: number;
  wallMs: number;
  msPerStep: number;
  /** Workflow runs of the pipeline: 1 + each continue-as-new. */
  runs: number;
  /** Events and bytes of the largest run's history. */
  maxRunHistoryEvents: number;
  maxRunHistoryBytes: number;
  /** Every step came back with its record, in order, succeeded. */
  recordsComplete: boolean;
}

export interface LongPipelineResult {
  byLength: LongPipelineRun[];
}

export async function measureLongPipelines(
  harness: BenchHarness,
  plan: BenchPlan,
): Promise<LongPipelineResult> {
  await warmUp(harness.client, harness.taskQueue);
  const byLength: LongPipelineRun[] = [];
  for (const steps of plan.longPipelineSteps) {
    const input = sequentialPipeline(`bench-long-${steps}`, steps);
    const run = await runPipeline(harness.client, input, harness.taskQueue);
    const names = input.steps.map((s) => s.name);
    const recordsComplete =
      run.result.steps.length === steps &&
      run.result.steps.every((s, i) => s.name === names[i] && s.status === 'succeeded');
    // Each run's history, following continue-as-new from the first.
    let runId: string | undefined = (
      await harness.client.workflow.getHandle(run.handle.workflowId).describe()
    ).raw.workflowExecutionInfo?.firstRunId as string | undefined;
    let runs = 0;
    let maxEvents = 0;
    let maxBytes = 0;
    while (runId) {
      const history = await harness.client.workflow.getHandle(run.handle.workflowId, runId).fetchHistory();
      const events = history.events ?? [];
      runs += 1;
      maxEvents = Math.max(maxEvents, events.length);
      maxBytes = Math.max(maxBytes, proto.temporal.api.history.v1.History.encode(history).finish().length);
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    const entry: LongPipelineRun = {
      steps,
      wallMs: Math.round(run.wallMs),
      msPerStep: round(run.wallMs / steps),
      runs,
      maxRunHistoryEvents: maxEvents,
      maxRunHistoryBytes: maxBytes,
      recordsComplete,
    };
    say(
      `${steps}-step pipeline: ${entry.wallMs} ms (${entry.msPerStep} ms a step), ${runs} run(s), largest history ${maxEvents} events, records ${recordsComplete ? 'complete' : 'INCOMPLETE'}`,
    );
    if (!recordsComplete)
      throw new Error(`${run.handle.workflowId}: not every step came back with its record`);
    byLength.push(entry);
  }
  return { byLength };
}
