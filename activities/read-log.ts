import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { z } from 'zod';
import { LogRefused, readAttemptLog } from '../src/output/log-reader.js';
import { makeContainerId } from '../src/runtime/container-id.js';
import { parseOrThrow, ValidationError } from '../src/validation.js';
import { logsDir } from '../src/workspace/index.js';
import type { LogChunk, ReadLogRequest } from '../workflows/logs.js';
import type { ActivityDeps } from './deps.js';

/** The most a read returns: its chunk goes into the reading workflow's history, twice. */
export const maxLogChunkBytes = 256 * 1024;
/** The longest a read waits for new output of a running attempt. */
export const maxLogWaitMs = 10_000;
/**
 * Reads that wait at once, per worker: they hold control-queue slots, which aborts need (the
 * queue has 16); reads beyond answer at once, and their client asks again a little later.
 */
const maxWaitingReads = 8;
/** After new output wakes a waiting read, this long to gather what follows it. */
const gatherMs = 100;

const readLogRequestSchema = z.strictObject({
  workflowId: z.string().min(1).max(1000),
  runId: z.string().min(1).max(256),
  activityId: z.string().min(1).max(256),
  attempt: z.number().int().min(1).max(1_000_000),
  offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  maxBytes: z.number().int().min(1).max(maxLogChunkBytes).optional(),
  waitMs: z.number().int().min(0).max(maxLogWaitMs).optional(),
});

/**
 * `readLog`, served on the host's control queue: a chunk of one attempt's log. The log is found
 * from the attempt's names and the caller's own namespace (the container id derives from them,
 * hash included), never from a path, so a read reaches only the log of the attempt it names, of
 * a workflow in its namespace. Logs hold masked output only (secrets never reach them).
 */
export function makeReadLog(deps: ActivityDeps) {
  let waiting = 0;
  return async function readLog(raw: ReadLogRequest): Promise<LogChunk> {
    const request = parse(raw);
    const context = Context.current();
    const namespace = context.info.workflowNamespace ?? context.info.activityNamespace;
    const containerId = makeContainerId({ namespace, ...request });
    const path = join(logsDir(deps.workDir), `${containerId}.log`);
    const maxBytes = request.maxBytes ?? maxLogChunkBytes;
    let deadline = Date.now() + (request.waitMs ?? 0);
    try {
      for (;;) {
        const live = deps.liveLogs.get(containerId);
        const read = await readAttemptLog(path, live, request.offset, maxBytes);
        const idle = read.data.length === 0 && read.skipped === 0 && read.state === 'running';
        if (!idle || !live || Date.now() >= deadline || waiting >= maxWaitingReads) {
          return {
            state: read.state,
            data: read.data.toString('base64'),
            offset: read.offset,
            skipped: read.skipped,
            next: read.next,
            host: deps.host,
          };
        }
        waiting++;
        try {
          await live.waitForMore(deadline - Date.now(), context.cancellationSignal);
          if (!context.cancellationSignal.aborted) await sleep(gatherMs);
        } finally {
          waiting--;
        }
        // A worker that shuts down answers with what there is.
        if (context.cancellationSignal.aborted) deadline = 0;
      }
    } catch (error) {
      if (error instanceof LogRefused) throw ApplicationFailure.nonRetryable(error.message, 'LogRefused');
      throw error;
    }
  };
}

function parse(raw: ReadLogRequest): ReadLogRequest {
  try {
    return parseOrThrow(readLogRequestSchema, raw, 'log request') as ReadLogRequest;
  } catch (error) {
    if (error instanceof ValidationError) throw ApplicationFailure.nonRetryable(error.message, 'InvalidStep');
    throw error;
  }
}
