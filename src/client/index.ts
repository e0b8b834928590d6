import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Client,
  isGrpcServiceError,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { PipelineInput, PipelineResult, PipelineStatusSnapshot } from '../../workflows/types.js';
import { defaultTaskQueue } from '../task-queue.js';
import { wholeRecords } from './pipeline-runs.js';
import { runningContainers, withRunningContainers } from './running-steps.js';

// The `temporal-runsc/client` entry point: starting, following, cancelling and reading pipelines
// needs only @temporalio/client. Nothing here may import worker code (the worker SDK, its native
// bridge, the runtime): test/unit/light-imports.test.ts checks the module graph.
export type {
  PipelineInput,
  PipelineResult,
  PipelineStatusSnapshot,
  StepReport,
  StepSpec,
} from '../../workflows/types.js';
export { defaultTaskQueue } from '../task-queue.js';
export {
  type LogStreams,
  type StepAttempt,
  type StepAttempts,
  type StepLogEntry,
  StepLogError,
  type StepLogOptions,
  stepAttempts,
  stepLog,
} from './logs.js';
export { type RunningContainer, runningContainers } from './running-steps.js';

export type PipelineHandle = WorkflowHandle;

export interface StartPipelineOptions {
  /** Default: `<pipeline name>-<time>-<random>`. */
  workflowId?: string;
  /** The shared queue the workers poll. Default `temporal-runsc`. */
  taskQueue?: string;
}

/** Starts a pipeline workflow and returns its handle. */
export async function startPipeline(
  client: Client,
  input: PipelineInput,
  options: StartPipelineOptions = {},
): Promise<PipelineHandle> {
  const workflowId =
    options.workflowId ??
    `${input.name}-${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 8)}`;
  return client.workflow.start('sandboxPipeline', {
    taskQueue: options.taskQueue ?? defaultTaskQueue,
    workflowId,
    args: [input],
    staticSummary: `pipeline ${input.name}: ${input.steps.length} step(s)`,
  });
}

/**
 * The pipeline's steps: its own view (the `status` query), with each running step's container,
 * pid and host from its activity's last heartbeat (they appear from the first heartbeat tick).
 */
export async function pipelineStatus(handle: PipelineHandle): Promise<PipelineStatusSnapshot> {
  const [snapshot, running] = await Promise.all([
    handle.query<PipelineStatusSnapshot>('status'),
    // Best effort: the steps' own states come from the query whatever happens here.
    runningContainers(handle).catch(() => []),
  ]);
  return withRunningContainers(snapshot, running);
}

/**
 * Yields the status each time it changes, until the workflow closes. Polls the query (the
 * workflow has no push channel to clients); `intervalMs` bounds the lag.
 */
export async function* followPipeline(
  handle: PipelineHandle,
  options: { intervalMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<PipelineStatusSnapshot> {
  let last = '';
  for (;;) {
    if (options.signal?.aborted) return;
    const snapshot = await pipelineStatus(handle).catch(() => undefined);
    if (snapshot) {
      const text = JSON.stringify(snapshot);
      if (text !== last) {
        last = text;
        yield snapshot;
      }
      if (snapshot.status !== 'running') return;
    }
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING') {
      const final = await pipelineStatus(handle).catch(() => undefined);
      if (final && JSON.stringify(final) !== last) yield final;
      return;
    }
    await sleep(options.intervalMs ?? 250);
  }
}

/**
 * Waits for the end and returns the result in the contract shape, whatever the ending: a
 * failed pipeline carries its result in the failure, a cancelled one is read with the query.
 */
export async function pipelineResult(handle: PipelineHandle): Promise<PipelineResult> {
  // A pipeline that continued as new: the result of its last run, joined with earlier runs' records.
  return wholeRecords(handle, await lastRunResult(handle));
}

async function lastRunResult(handle: PipelineHandle): Promise<PipelineResult> {
  try {
    return await handle.result();
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
    const { cause } = error;
    if (cause instanceof ApplicationFailure && cause.type === 'PipelineFailed' && cause.details?.[0]) {
      return cause.details[0] as PipelineResult;
    }
    const snapshot = await pipelineStatus(handle).catch(() => undefined);
    const { steps = [], earlier, unlisted } = snapshot ?? {};
    const leftOut = { ...(earlier ? { earlier } : {}), ...(unlisted ? { unlisted } : {}) };
    if (cause instanceof CancelledFailure) {
      return { workflowId: handle.workflowId, status: 'cancelled', steps, ...leftOut };
    }
    // An input that cannot run (InvalidPipeline) fails before any step: say why.
    const why = cause?.message ? { error: cause.message } : {};
    return { workflowId: handle.workflowId, status: 'failed', steps, ...leftOut, ...why };
  }
}

/** Requests cancellation: running containers are aborted, then `finally` steps run. */
export async function cancelPipeline(handle: PipelineHandle): Promise<void> {
  try {
    await handle.cancel();
  } catch (error) {
    if (isGrpcServiceError(error))
      throw new Error(`cannot cancel ${handle.workflowId}: ${error.details ?? error.message}`);
    throw error;
  }
}
