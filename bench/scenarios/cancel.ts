/**
 * Cancel-to-gone: a one-step pipeline whose container is up (it touched a ready file in a
 * mounted folder), then `cancelPipeline`; the clock stops when the container's state files and
 * processes are gone. Two containers: one that exits on TERM (its shell traps it) and one that
 * does not exit on TERM, so the abort sequence waits out the worker's grace period and KILLs it.
 * Both touch a file in the mounted folder when TERM arrives: its host mtime says when the
 * cancellation reached the container, which splits delivery from the runtime's shutdown.
 *
 * The delivery path is client -> server -> workflow task -> abortStep on the host's control
 * queue -> the running activity aborts (runsc kill TERM ...). The activity's cancellation
 * request goes out in the same workflow task; it reaches the activity only with a heartbeat's
 * response (the first after heartbeatIntervalMs, then at most every 2 s), the slower path that
 * the control queue overtakes. The pipeline default heartbeatTimeout (10 s) is measured.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { heartbeatIntervalMs } from '../../activities/run-container.js';
import { cancelPipeline, pipelineResult, startPipeline } from '../../src/client/index.js';
import type { PipelineInput } from '../../workflows/types.js';
import { waitForFile, watchUntilGone } from '../container-watch.js';
import { type BenchHarness, inProcessWorkerSettings } from '../harness.js';
import { onlyActivity, optionalActivity, workflowTimeline } from '../history.js';
import type { BenchPlan } from '../options.js';
import { nowMs, waitForRunningStep } from '../pipelines.js';
import { say } from '../progress.js';
import { median, round, type Summary, summarize } from '../stats.js';

const exitsOnTerm = "trap 'touch /ready/term; exit 143' TERM; touch /ready/up; sleep 600 & wait";
// The trap interrupts `wait`; the loop goes back to waiting, so TERM changes nothing.
const ignoresTerm = "trap 'touch /ready/term' TERM; touch /ready/up; sleep 600 & while :; do wait; done";

export interface CancelSeries {
  heartbeatTimeoutMs: number;
  heartbeatIntervalMs: number;
  cancelToGoneMs: Summary;
  /** Client cancel call -> ActivityTaskCancelRequested in the history (server + workflow task). */
  cancelToActivityCancelRequestedMs: number;
  /** Client cancel call -> TERM reached the container (delivery on a heartbeat response, runsc kill). */
  cancelToTermMs: number | null;
  /** TERM reached the container -> container gone (the abort sequence and runsc's shutdown). */
  termToGoneMs: number | null;
  /** Rounds whose workflow sent abortStep to the host's control queue (all, normally). */
  abortRequests: number;
  samples: { cancelToGoneMs: number[]; cancelToTermMs: (number | null)[] };
}

export interface CancelResult {
  exitsOnTerm: CancelSeries;
  ignoresTerm: CancelSeries & { graceMs: number };
}

export async function measureCancel(harness: BenchHarness, plan: BenchPlan): Promise<CancelResult> {
  const defaultHeartbeatTimeoutMs = 10_000; // workflows/pipeline.ts defaultHeartbeatTimeout
  const exits = await cancelSeries(
    harness,
    'term',
    exitsOnTerm,
    defaultHeartbeatTimeoutMs,
    plan.cancelRounds,
  );
  const ignores = await cancelSeries(
    harness,
    'ignore',
    ignoresTerm,
    defaultHeartbeatTimeoutMs,
    plan.cancelIgnoringTermRounds,
  );
  return {
    exitsOnTerm: exits,
    ignoresTerm: { ...ignores, graceMs: inProcessWorkerSettings.graceMs },
  };
}

async function cancelSeries(
  harness: BenchHarness,
  label: string,
  script: string,
  heartbeatTimeoutMs: number,
  rounds: number,
): Promise<CancelSeries> {
  const toGone: number[] = [];
  const toTerm: (number | null)[] = [];
  const toCancelRequested: number[] = [];
  let abortRequests = 0;
  for (let round = 0; round < rounds; round++) {
    const readyDir = join(harness.workDir, 'cancel', `${label}-${round}`);
    await mkdir(readyDir, { recursive: true });
    const input: PipelineInput = {
      name: `bench-cancel-${label}`,
      steps: [
        {
          name: 'victim',
          args: ['/bin/sh', '-c', script],
          mounts: [{ source: readyDir, destination: '/ready', readOnly: false }],
          heartbeatTimeout: heartbeatTimeoutMs,
          retry: { maximumAttempts: 1 },
        },
      ],
    };
    const handle = await startPipeline(harness.client, input, { taskQueue: harness.taskQueue });
    await waitForFile(join(readyDir, 'up'));
    const { containerId } = await waitForRunningStep(handle, 'victim');

    const cancelledAt = nowMs();
    const watching = watchUntilGone(harness.roots.runsc, containerId);
    await cancelPipeline(handle);
    const goneAt = await watching;
    const result = await pipelineResult(handle);
    if (result.status !== 'cancelled') throw new Error(`cancelled pipeline ended ${result.status}`);
    const timeline = await workflowTimeline(handle);
    const activity = onlyActivity(timeline, 'runContainer');
    if (optionalActivity(timeline, 'abortStep')) abortRequests++;

    const termAt = await stat(join(readyDir, 'term')).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
    toGone.push(goneAt - cancelledAt);
    toTerm.push(termAt === undefined ? null : termAt - cancelledAt);
    if (activity.cancelRequested !== undefined)
      toCancelRequested.push(activity.cancelRequested - cancelledAt);
  }
  const seenTerm = toTerm.filter((ms): ms is number => ms !== null);
  const termToGone = toTerm.flatMap((ms, i) => (ms === null ? [] : [(toGone[i] as number) - ms]));
  const series: CancelSeries = {
    heartbeatTimeoutMs,
    heartbeatIntervalMs: heartbeatIntervalMs(heartbeatTimeoutMs),
    cancelToGoneMs: summarize(toGone),
    cancelToActivityCancelRequestedMs: round(median(toCancelRequested)),
    cancelToTermMs: seenTerm.length > 0 ? round(median(seenTerm)) : null,
    termToGoneMs: termToGone.length > 0 ? round(median(termToGone)) : null,
    abortRequests,
    samples: {
      cancelToGoneMs: toGone.map(Math.round),
      cancelToTermMs: toTerm.map((ms) => (ms === null ? null : Math.round(ms))),
    },
  };
  say(
    `cancel (${label}, heartbeatTimeout ${heartbeatTimeoutMs} ms): gone after p50 ${series.cancelToGoneMs.p50} / p95 ${series.cancelToGoneMs.p95} ms; TERM reached it after ${series.cancelToTermMs ?? '?'} ms`,
  );
  return series;
}
