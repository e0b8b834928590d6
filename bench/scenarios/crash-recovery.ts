/**
 * A worker (in a process of its own) is SIGKILLed while its step's container runs; a new worker
 * process is started at once on the same host queue. Measured: kill -> the step's
 * ActivityTaskCompleted (recorded by the server when the restarted worker's attempt finished).
 *
 * The step's first attempt sleeps; any later attempt exits 0 (it counts attempts in a mounted
 * file), so the figure is the recovery machinery itself: the server noticing the lost attempt
 * (heartbeatTimeout), the retry's backoff, the new worker's start (process, workflow bundle,
 * start-up sweep of the orphaned container) and the retry's own run. The two first overlap.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipelineResult, startPipeline } from '../../src/client/index.js';
import type { PipelineInput } from '../../workflows/types.js';
import { ChildWorker, type ChildWorkerSettings } from '../child-worker.js';
import { waitForFile } from '../container-watch.js';
import type { BenchHarness } from '../harness.js';
import { onlyActivity, workflowTimeline } from '../history.js';
import type { BenchPlan } from '../options.js';
import { nowMs } from '../pipelines.js';
import { say } from '../progress.js';
import { median, round, type Summary, summarize } from '../stats.js';

export const crashStepSettings = {
  heartbeatTimeoutMs: 2000,
  retryInitialIntervalMs: 100,
  /** The child worker's TERM-to-KILL grace (the start-up sweep aborts the orphan with it). */
  graceMs: 1000,
} as const;

export interface CrashRecoveryResult {
  crashRecoveryMs: Summary;
  heartbeatTimeoutMs: number;
  retryInitialIntervalMs: number;
  /** Kill -> the new worker process says ready (spawn, workflow bundle, start-up sweep). */
  restartMs: number;
  /** Kill -> the retry attempt started on the new worker. */
  killToRetryStartedMs: number;
  /** Retry attempt started -> completed. */
  retryRunMs: number;
  /** Kill -> the pipeline's result at the client. */
  killToResultMs: number;
  /**
   * Step completed -> workflow completed: the workflow task that follows the retry. While the
   * server still counts the dead worker as a poller of its sticky queue, the task goes there
   * and moves on only when the sticky schedule-to-start timeout (10 s by default) expires; when
   * the restart took long enough, it goes to the normal queue at once. Per-round samples show which.
   */
  stepCompletedToWorkflowClosedMs: number;
  /** What the restarted worker's start-up sweep did with the orphaned container, per round. */
  sweepActions: string[];
  samples: {
    crashRecoveryMs: number[];
    restartMs: number[];
    killToResultMs: number[];
    stepCompletedToWorkflowClosedMs: number[];
  };
}

export function childWorkerSettings(
  harness: BenchHarness,
  name: string,
  maxContainers: number,
): ChildWorkerSettings {
  const taskQueue = `${harness.taskQueue}-${name}`;
  return {
    address: harness.address,
    taskQueue,
    hostQueue: `${taskQueue}@bench-${name}-host`,
    host: `bench-${name}-host`,
    root: harness.roots.workerProcess,
    workDir: join(harness.workDir, `worker-${name}`),
    rootfs: harness.rootfs,
    graceMs: crashStepSettings.graceMs,
    maxContainers,
    workflowBundlePath: harness.workflowBundlePath,
  };
}

export async function measureCrashRecovery(
  harness: BenchHarness,
  plan: BenchPlan,
): Promise<CrashRecoveryResult> {
  const settings = childWorkerSettings(harness, 'crash', 8);
  let worker: ChildWorker | undefined;
  harness.defer('stop the crash scenario worker', async () => worker?.stop());
  worker = await ChildWorker.start(settings);

  const recovery: number[] = [];
  const restart: number[] = [];
  const toRetryStarted: number[] = [];
  const retryRun: number[] = [];
  const toResult: number[] = [];
  const toClosed: number[] = [];
  const sweepActions: string[] = [];
  for (let round = 0; round < plan.crashRounds; round++) {
    const stateDir = join(harness.workDir, 'crash', String(round));
    await mkdir(stateDir, { recursive: true });
    await writeFile(join(stateDir, 'attempts'), '');
    const input: PipelineInput = {
      name: 'bench-crash',
      steps: [
        {
          name: 'survivor',
          args: [
            '/bin/sh',
            '-c',
            "echo x >> /state/attempts; [ $(wc -l < /state/attempts) -ge 2 ] && exit 0; trap 'exit 143' TERM; touch /state/up; sleep 60 & wait",
          ],
          mounts: [{ source: stateDir, destination: '/state', readOnly: false }],
          heartbeatTimeout: crashStepSettings.heartbeatTimeoutMs,
          retry: { maximumAttempts: 3, initialInterval: crashStepSettings.retryInitialIntervalMs },
        },
      ],
    };
    const handle = await startPipeline(harness.client, input, { taskQueue: settings.taskQueue });
    await waitForFile(join(stateDir, 'up'));

    const killedAt = nowMs();
    await worker.crash();
    worker = await ChildWorker.start(settings);
    const readyAt = nowMs();
    const result = await pipelineResult(handle);
    const resultAt = nowMs();
    if (result.status !== 'completed') throw new Error(`crash pipeline ended ${result.status}`);
    const timeline = await workflowTimeline(handle);
    const step = onlyActivity(timeline, 'runContainer');
    if (step.completed === undefined || step.started === undefined) throw new Error('no completed retry');

    recovery.push(step.completed - killedAt);
    restart.push(readyAt - killedAt);
    toRetryStarted.push(step.started - killedAt);
    retryRun.push(step.completed - step.started);
    toResult.push(resultAt - killedAt);
    toClosed.push((timeline.closed ?? Number.NaN) - step.completed);
    const actions = worker.startupSweep?.containers.map((c) => c.action) ?? [];
    sweepActions.push(actions.length > 0 ? actions.join(',') : 'nothing found');
    say(
      `crash round ${round + 1}: step completed ${Math.round(step.completed - killedAt)} ms after the kill (worker ready after ${Math.round(readyAt - killedAt)} ms, attempt ${step.attempt})`,
    );
  }
  await worker.stop();
  return {
    crashRecoveryMs: summarize(recovery),
    heartbeatTimeoutMs: crashStepSettings.heartbeatTimeoutMs,
    retryInitialIntervalMs: crashStepSettings.retryInitialIntervalMs,
    restartMs: round(median(restart)),
    killToRetryStartedMs: round(median(toRetryStarted)),
    retryRunMs: round(median(retryRun)),
    killToResultMs: round(median(toResult)),
    stepCompletedToWorkflowClosedMs: round(median(toClosed)),
    sweepActions,
    samples: {
      crashRecoveryMs: recovery.map(Math.round),
      restartMs: restart.map(Math.round),
      killToResultMs: toResult.map(Math.round),
      stepCompletedToWorkflowClosedMs: toClosed.map(Math.round),
    },
  };
}
