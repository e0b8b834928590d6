/**
 * Pipelines as a chaos scenario drives them: started through the library's client, followed
 * through its `status` query, and awaited through a server that may be down for a while.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { type PipelineHandle, pipelineResult, pipelineStatus, startPipeline } from '../src/client/index.js';
import type { PipelineResult, StepReport } from '../workflows/types.js';
import type { ChaosPipeline } from './steps.js';

export interface TrackedPipeline {
  workflowId: string;
  handle: PipelineHandle;
  pipeline: ChaosPipeline;
  /** Set once the workflow has closed. */
  result?: PipelineResult;
  /** Set when no result could be read before the deadline. */
  error?: string;
  /** Resolves (never rejects) once the result or the error is set. */
  settled: Promise<void>;
}

/** Starts one pipeline and begins waiting for its result in the background. */
export async function startTracked(
  client: Client,
  pipeline: ChaosPipeline,
  options: { workflowId: string; taskQueue: string; resultDeadlineMs: number; signal: AbortSignal },
): Promise<TrackedPipeline> {
  const handle = await startPipeline(client, pipeline.input, {
    workflowId: options.workflowId,
    taskQueue: options.taskQueue,
  });
  const tracked: TrackedPipeline = {
    workflowId: options.workflowId,
    handle,
    pipeline,
    settled: Promise.resolve(),
  };
  tracked.settled = resultThroughOutages(client, handle, options.resultDeadlineMs, options.signal).then(
    (result) => {
      tracked.result = result;
    },
    (error: Error) => {
      tracked.error = error.message;
    },
  );
  return tracked;
}

/**
 * The pipeline's result, retrying while the server cannot be reached (the server-restart
 * scenario takes it away on purpose) until the deadline.
 */
async function resultThroughOutages(
  client: Client,
  handle: PipelineHandle,
  deadlineMs: number,
  signal: AbortSignal,
): Promise<PipelineResult> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      // Aborted with the scenario, so no call is left waiting on a connection about to close.
      return await client.connection.withAbortSignal(signal, () => pipelineResult(handle));
    } catch (error) {
      if (signal.aborted) throw new Error(`${handle.workflowId}: still open when the scenario ended`);
      if (Date.now() > deadline) {
        throw new Error(
          `${handle.workflowId}: no result within ${deadlineMs} ms: ${(error as Error).message}`,
        );
      }
      await sleep(500);
    }
  }
}

/** Waits for all of them to settle; throws naming those still open at the deadline. */
export async function settleAll(pipelines: readonly TrackedPipeline[], timeoutMs: number): Promise<void> {
  const all = Promise.all(pipelines.map((p) => p.settled));
  const finished = await Promise.race([all.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!finished) {
    const open = pipelines.filter((p) => !p.result && !p.error).map((p) => p.workflowId);
    throw new Error(`pipelines still running after ${Math.round(timeoutMs / 1000)} s: ${open.join(', ')}`);
  }
}

/** Polls the status query until `accept` says yes about the named step (or throws at the deadline). */
export async function waitForStep(
  handle: PipelineHandle,
  stepName: string,
  accept: (step: StepReport) => boolean,
  timeoutMs: number,
): Promise<StepReport> {
  const deadline = Date.now() + timeoutMs;
  let last: StepReport | undefined;
  for (;;) {
    last =
      (await pipelineStatus(handle).catch(() => undefined))?.steps.find((s) => s.name === stepName) ?? last;
    if (last && accept(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `${handle.workflowId}: step ${stepName} not as expected within ${timeoutMs} ms (last seen: ${describeStep(last)})`,
      );
    }
    await sleep(100);
  }
}

/** A step whose container has started (its pid and container id are known). */
export const isRunning = (step: StepReport) =>
  step.status === 'running' && Boolean(step.pid && step.containerId);

export function describeStep(step: StepReport | undefined): string {
  if (!step) return 'never seen';
  return `${step.status}, exitCode ${step.exitCode}, attempts ${step.attempts}, host ${step.host}${step.error ? `, error: ${step.error}` : ''}`;
}
