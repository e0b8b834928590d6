import { proxyActivities } from '@temporalio/workflow';
import { controlQueueFor } from './control-queue.js';

/**
 * One read of a step attempt's log, asked of the host that ran it. The attempt is named the way
 * Temporal knows it (the workflow that ran the step, its run, the activity and the attempt): the
 * host derives the log from these and its own namespace, so a client names no path, and only a
 * client that names a workflow reads that workflow's logs.
 */
export interface ReadLogRequest {
  workflowId: string;
  runId: string;
  activityId: string;
  attempt: number;
  /** Where to read from, in the log's records as written (0: the start). */
  offset: number;
  /** At most this many bytes (default and maximum 256 KiB: far below Temporal's payload limit). */
  maxBytes?: number;
  /** When nothing is new in a running attempt, wait up to this long for more (at most 10 s). */
  waitMs?: number;
}

/** What the host answers: records (records.ts in src/output), base64, from `offset`. */
export interface LogChunk {
  /** running | ended | incomplete (its worker stopped first) | missing (none here: not yet, or swept). */
  state: 'running' | 'ended' | 'incomplete' | 'missing';
  data: string;
  offset: number;
  /** Bytes before `offset` that the log's caps dropped (the reader says so). */
  skipped: number;
  next: number;
  host: string;
}

export interface ReadStepLogInput {
  /** The host queue that ran the attempt: the read goes to its control queue. */
  hostQueue: string;
  request: ReadLogRequest;
}

/** Run on one host's control queue, beside abortStep (never behind a container). */
export interface LogActivities {
  readLog(request: ReadLogRequest): Promise<LogChunk>;
}

/** How long a host may take to pick a read up before it counts as unreachable. */
export const logHostTimeout = '5s';

/**
 * A workflow of its own per read, so that reading (or following for hours) a step's output
 * never adds to the pipeline's history: each read is a short workflow that asks the host and
 * returns the chunk. See the README ("Watching steps") for the cost, and why not an update or a query.
 */
export async function readStepLog(input: ReadStepLogInput): Promise<LogChunk> {
  const host = proxyActivities<LogActivities>({
    taskQueue: controlQueueFor(input.hostQueue),
    scheduleToStartTimeout: logHostTimeout,
    startToCloseTimeout: `${Math.min(input.request.waitMs ?? 0, 10_000) + 10_000}ms`,
    retry: { maximumAttempts: 1 },
    summary: 'read a step log',
  });
  return host.readLog(input.request);
}
