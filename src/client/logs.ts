/**
 * A step's output, live or after it ended, read from the host that ran it through Temporal: no
 * port between the reader and the worker, the client's own connection. Each read is a short
 * workflow of its own (`readStepLog`, on the pipeline's task queue) that asks the host's control
 * queue for a chunk, so reading never adds to the pipeline's history (README, "Watching steps").
 * Client code only: @temporalio/client and plain modules.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { LogChunk, ReadLogRequest, ReadStepLogInput } from '../../workflows/logs.js';
import {
  droppedText,
  type LogRecord,
  noteStream,
  type OutputStream,
  parseRecords,
} from '../output/records.js';
import { decodeFirst } from './running-steps.js';

/** Which of a step's streams to read. */
export type LogStreams = 'stdout' | 'stderr' | 'all';

export interface StepLogOptions {
  /** Keep reading while the step runs, and its later attempts (retries), until it ends. */
  follow?: boolean;
  /** Read this attempt (1 = the first; counted across hosts when the step moved). Default the latest. */
  attempt?: number;
  /** Default stdout. */
  streams?: LogStreams;
  signal?: AbortSignal;
}

/** What the iterator yields: output lines, and notes about where they come from. */
export type StepLogEntry =
  /** The attempt whose output follows. */
  | { type: 'attempt'; step: string; attempt: number; attempts: number; hostQueue: string; running: boolean }
  /** Output: a line, or part of one (`partial`: no newline yet, the next part continues it). */
  | { type: 'output'; stream: OutputStream; text: string; partial: boolean; time: string }
  /** Output the host's log caps dropped here (the log keeps a head and a tail). */
  | { type: 'dropped'; bytes: number; text: string }
  /** Something the reader should know about the log (it ends early, say). */
  | { type: 'note'; text: string };

/** The log cannot be read, said so that a person knows why and what to do. */
export class StepLogError extends Error {
  override name = 'StepLogError';
  constructor(
    readonly reason: 'no-step' | 'not-started' | 'gone' | 'unreachable' | 'refused',
    message: string,
  ) {
    super(message);
  }
}

/** One attempt of a step, as Temporal knows it. */
export interface StepAttempt {
  step: string;
  activityId: string;
  attempt: number;
  hostQueue: string;
  /** started: its container may run now; scheduled: waiting for its host; ended. */
  state: 'scheduled' | 'started' | 'ended';
}

export interface StepAttempts {
  runId: string;
  taskQueue: string;
  workflowOpen: boolean;
  /** The step names seen so far, in the order they were scheduled. */
  steps: string[];
  attempts: StepAttempt[];
  /** A later attempt of the step may still come (its activity is pending). */
  stepPending: boolean;
}

/** Reads past the first wait this long for new output of a running attempt (read-log.ts caps it). */
const waitMs = 10_000;
/** A follower reads at most once a second while output keeps coming: about 60 reads a minute. */
const followIntervalMs = 1000;
/** How long a read may take before the client gives up on it (the host's own timeout is 5 s). */
const readTimeout = '1m';
const pendingStarted = 2;

/**
 * A step's attempts, from the workflow's history (the activities scheduled for it, by their
 * input's step name) and its pending activities (the running attempt): where each ran.
 */
export async function stepAttempts(handle: WorkflowHandle, step: string | undefined): Promise<StepAttempts> {
  const description = await handle.describe();
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, { activityId: string; hostQueue: string; step: string }>();
  const lastAttempt = new Map<string, number>();
  const closed = new Set<string>();
  const steps: string[] = [];
  for (const event of history.events ?? []) {
    const id = String(event.eventId ?? '');
    const s = event.activityTaskScheduledEventAttributes;
    if (s && s.activityType?.name === 'runContainer') {
      const input = (await decodeFirst(handle, (s.input?.payloads ?? []) as Payload[]).catch(
        () => undefined,
      )) as { step?: unknown } | undefined;
      const name = typeof input?.step === 'string' ? input.step : '';
      scheduled.set(id, { activityId: s.activityId ?? '', hostQueue: s.taskQueue?.name ?? '', step: name });
      if (name && !steps.includes(name)) steps.push(name);
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) lastAttempt.set(String(started.scheduledEventId ?? ''), started.attempt ?? 1);
    for (const end of [
      event.activityTaskCompletedEventAttributes,
      event.activityTaskFailedEventAttributes,
      event.activityTaskTimedOutEventAttributes,
      event.activityTaskCanceledEventAttributes,
    ]) {
      if (end) closed.add(String(end.scheduledEventId ?? ''));
    }
  }
  const pending = new Map((description.raw.pendingActivities ?? []).map((p) => [p.activityId ?? '', p]));
  const wanted = step ?? steps.at(-1);
  const attempts: StepAttempt[] = [];
  let stepPending = false;
  for (const [eventId, activity] of scheduled) {
    if (activity.step !== wanted) continue;
    const base = { step: activity.step, activityId: activity.activityId, hostQueue: activity.hostQueue };
    const live = closed.has(eventId) ? undefined : pending.get(activity.activityId);
    if (live) {
      stepPending = true;
      const current = live.attempt ?? 1;
      for (let n = 1; n < current; n++) attempts.push({ ...base, attempt: n, state: 'ended' });
      attempts.push({
        ...base,
        attempt: current,
        state: Number(live.state) === pendingStarted ? 'started' : 'scheduled',
      });
    } else {
      // An activity that timed out before any start (its host lost) ran no attempt.
      const last = lastAttempt.get(eventId) ?? 0;
      for (let n = 1; n <= last; n++) attempts.push({ ...base, attempt: n, state: 'ended' });
    }
  }
  return {
    runId: description.runId,
    taskQueue: description.taskQueue,
    workflowOpen: description.status.name === 'RUNNING',
    steps,
    attempts,
    stepPending,
  };
}

/**
 * Yields a step's output: the chosen attempt's (default the latest) whole log as the host kept
 * it, then, with `follow`, new lines as they come (within about a second) and the attempts
 * that follow, until the step ends. Throws StepLogError when the log is gone or its host does
 * not answer. `step` defaults to the step scheduled last.
 */
export async function* stepLog(
  handle: WorkflowHandle,
  step: string | undefined,
  options: StepLogOptions = {},
): AsyncGenerator<StepLogEntry> {
  const streams = options.streams ?? 'stdout';
  const session = `${handle.workflowId}/logs/${randomBytes(6).toString('hex')}`;
  const first = await stepAttempts(handle, step);
  // A follower that came before the step's first attempt reads every attempt from the first, even
  // when the first ended (and its retry began) between two looks; one that came later starts at
  // the latest.
  const fromFirst = options.follow === true && first.attempts.length === 0;
  let known = first.attempts.length > 0 ? first : await waitForAttempts(handle, step, options);
  const name = known.attempts[0]?.step ?? step ?? '';
  let index = options.attempt !== undefined ? options.attempt - 1 : fromFirst ? 0 : known.attempts.length - 1;
  if (options.attempt !== undefined && !known.attempts[index]) {
    throw new StepLogError(
      'no-step',
      `step ${name} of ${handle.workflowId} has ${known.attempts.length} attempt(s) so far: --attempt ${options.attempt} is not one of them`,
    );
  }
  for (;;) {
    const attempt = known.attempts[index] as StepAttempt;
    yield {
      type: 'attempt',
      step: name,
      attempt: index + 1,
      attempts: known.attempts.length,
      hostQueue: attempt.hostQueue,
      running: attempt.state !== 'ended',
    };
    yield* attemptLog(handle, known, attempt, index + 1, { ...options, streams, session });
    if (!options.follow || options.attempt !== undefined || options.signal?.aborted) return;
    // The step's next attempt (a retry, or a move to another host), if it has one.
    for (;;) {
      known = await stepAttempts(handle, name);
      if (known.attempts.length > index + 1) break;
      if (!known.stepPending || !known.workflowOpen) return;
      await sleep(followIntervalMs, undefined, { signal: options.signal }).catch(() => undefined);
      if (options.signal?.aborted) return;
    }
    index++;
  }
}

/** The step's attempts once there is one; without `follow`, at once (or a StepLogError). */
async function waitForAttempts(
  handle: WorkflowHandle,
  step: string | undefined,
  options: StepLogOptions,
): Promise<StepAttempts> {
  for (;;) {
    const known = await stepAttempts(handle, step);
    if (known.attempts.length > 0) return known;
    const stepKnown = step === undefined ? known.steps.length > 0 : known.steps.includes(step);
    if (!known.workflowOpen || !options.follow) {
      const list = known.steps.length ? known.steps.join(', ') : 'none yet';
      throw new StepLogError(
        stepKnown ? 'not-started' : 'no-step',
        step === undefined
          ? `${handle.workflowId} has run no step yet (steps so far: ${list})`
          : stepKnown
            ? `step ${step} of ${handle.workflowId} has not started on a host yet: add --follow to wait for it`
            : `${handle.workflowId} has run no step named ${step} (steps so far: ${list})${known.workflowOpen ? ': add --follow to wait for it' : ''}`,
      );
    }
    await sleep(followIntervalMs, undefined, { signal: options.signal }).catch(() => undefined);
    if (options.signal?.aborted) throw new StepLogError('not-started', 'stopped before the step started');
  }
}

async function* attemptLog(
  handle: WorkflowHandle,
  known: StepAttempts,
  attempt: StepAttempt,
  number: number,
  options: StepLogOptions & { streams: LogStreams; session: string },
): AsyncGenerator<StepLogEntry> {
  let offset = 0;
  let rest = Buffer.alloc(0);
  let state = attempt.state;
  let first = true;
  const lines = new LineJoiner();
  for (;;) {
    if (options.signal?.aborted) return;
    const startedAt = Date.now();
    const follow = options.follow === true && state !== 'ended';
    const request: ReadLogRequest = {
      workflowId: handle.workflowId,
      runId: known.runId,
      activityId: attempt.activityId,
      attempt: attempt.attempt,
      offset,
      // The first read of a log returns at once; later ones of a running attempt wait for more.
      ...(follow && !first ? { waitMs } : {}),
    };
    const chunk = await readChunk(handle, known.taskQueue, attempt.hostQueue, request, options.session);
    first = false;
    if (chunk.state === 'missing') {
      // Started, but its log not open yet; or a retry that waits for its host: look again.
      if (follow) {
        // Read again after a look at its state: an attempt that ended meanwhile (a quick one)
        // has its log now, and only a read made after its end may call the log gone.
        state = (await stepAttempts(handle, attempt.step)).attempts[number - 1]?.state ?? 'ended';
        if (state !== 'ended')
          await sleep(followIntervalMs, undefined, { signal: options.signal }).catch(() => undefined);
        continue;
      }
      if (state !== 'ended') return;
      throw new StepLogError(
        'gone',
        `the log of step ${attempt.step} attempt ${number} is gone from host ${chunk.host} (${attempt.hostQueue}): hosts keep logs for their retention (7 days and 1 GiB by default, logRetention); the step's last 8 KiB are in \`temporal-runsc status\``,
      );
    }
    if (chunk.skipped > 0) {
      rest = Buffer.alloc(0);
      yield* lines.flush();
      yield { type: 'dropped', bytes: chunk.skipped, text: droppedText(chunk.skipped) };
    }
    const data = Buffer.from(chunk.data, 'base64');
    const { records, rest: left } = parseRecords(rest.length ? Buffer.concat([rest, data]) : data);
    rest = Buffer.from(left);
    for (const record of records) {
      if (options.signal?.aborted) return;
      if (record.stream === noteStream) continue; // the file's own notes: dropped is said above
      if (options.streams !== 'all' && record.stream !== options.streams) continue;
      const line = lines.add(record.stream, record);
      if (line) yield line;
    }
    // A running step's unfinished line is shown now (a prompt, a progress bar); its rest follows.
    if (chunk.state === 'running') yield* lines.flush();
    offset = chunk.next;
    const atEnd = data.length === 0 && chunk.skipped === 0;
    if (chunk.state !== 'running') {
      if (!atEnd) continue;
      yield* lines.flush();
      if (chunk.state === 'incomplete') {
        yield {
          type: 'note',
          text: `[the log of attempt ${number} ends here: its worker on ${chunk.host} stopped before the attempt ended]`,
        };
      }
      return;
    }
    if (!options.follow && atEnd) return;
    // A running attempt: back-to-back while catching up, else at most one read a second.
    if (data.length < 128 * 1024) {
      const pause = followIntervalMs - (Date.now() - startedAt);
      if (pause > 0 && !atEnd)
        await sleep(pause, undefined, { signal: options.signal }).catch(() => undefined);
    }
    if (atEnd) {
      // Nothing came within the wait: is the attempt still running?
      state = (await stepAttempts(handle, attempt.step)).attempts[number - 1]?.state ?? 'ended';
    }
  }
}

/**
 * Joins the parts of a line (`P` records, one per chunk the step wrote) into the line, per
 * stream: a line cut by a pipe read comes out whole.
 */
class LineJoiner {
  private readonly pending = new Map<OutputStream, { text: string; time: string }>();

  add(stream: OutputStream, record: LogRecord): StepLogEntry | undefined {
    const before = this.pending.get(stream);
    const text = (before?.text ?? '') + record.text.toString('utf8');
    const time = before?.time ?? record.time;
    if (record.partial) {
      this.pending.set(stream, { text, time });
      return undefined;
    }
    this.pending.delete(stream);
    return { type: 'output', stream, text, partial: false, time };
  }

  /** The unfinished lines, as parts (their rest comes as a line of its own). */
  *flush(): Generator<StepLogEntry> {
    for (const [stream, { text, time }] of this.pending) {
      if (text) yield { type: 'output', stream, text, partial: true, time };
    }
    this.pending.clear();
  }
}

/** One read: a short workflow on the pipeline's task queue that asks the host. */
async function readChunk(
  handle: WorkflowHandle,
  taskQueue: string,
  hostQueue: string,
  request: ReadLogRequest,
  session: string,
): Promise<LogChunk> {
  const input: ReadStepLogInput = { hostQueue, request };
  try {
    return await handle.client.execute('readStepLog', {
      taskQueue,
      // One id per reader (each read a new run of it), so the reads of one `logs` group together.
      workflowId: session,
      args: [input],
      workflowExecutionTimeout: readTimeout,
      staticSummary: `temporal-runsc logs ${request.workflowId} (attempt ${request.attempt})`,
    });
  } catch (error) {
    throw readError(error, hostQueue, taskQueue);
  }
}

function readError(error: unknown, hostQueue: string, taskQueue: string): Error {
  if (!(error instanceof WorkflowFailedError)) return error as Error;
  const cause = error.cause;
  if (cause instanceof TimeoutFailure) {
    return new StepLogError(
      'unreachable',
      `no worker on task queue ${taskQueue} ran the read within ${readTimeout}: are the pipeline's workers up (and new enough to serve readStepLog)?`,
    );
  }
  if (cause instanceof ActivityFailure) {
    const inner = cause.cause;
    if (inner instanceof TimeoutFailure) {
      return new StepLogError(
        'unreachable',
        `the host of this attempt (${hostQueue}) does not answer: its worker is stopped or cannot reach Temporal, and its logs are on it`,
      );
    }
    if (inner instanceof ApplicationFailure && inner.type === 'LogRefused') {
      return new StepLogError('refused', `host ${hostQueue} refused to read the log: ${inner.message}`);
    }
    return new StepLogError(
      'refused',
      `host ${hostQueue} could not read the log: ${inner?.message ?? cause.message}`,
    );
  }
  return error;
}
