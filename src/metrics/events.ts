/**
 * What the library tells its metrics, as `node:diagnostics_channel` messages: the code that
 * knows a fact (the runtime client, the step activity, the sweep) publishes it here and imports
 * nothing of Temporal; src/metrics/index.ts turns the messages into the worker's metrics. A
 * message costs nothing while no one subscribes (a library user without metrics).
 *
 * To add a metric: add its message type and channel here, publish it where the fact is known,
 * and add its instrument and subscriber in index.ts (one entry of `metricNames`, one handler).
 */
import { channel } from 'node:diagnostics_channel';

/** How a step attempt ended, as the metrics count it. */
export type StepOutcome = 'succeeded' | 'exit_code_failure' | 'runtime_failure' | 'aborted' | 'timed_out';

export type StepEvent =
  /** The container's `run` was spawned; `startLatencyMs` since the attempt was scheduled. */
  | { kind: 'started'; startLatencyMs: number }
  | { kind: 'ended'; outcome: StepOutcome; durationMs: number }
  /** Refused before anything ran (input or policy: `InvalidStep`). */
  | { kind: 'refused' };

/** Containers this process runs now (LiveContainers' size after a change). */
export interface ContainersEvent {
  running: number;
}

/** One management call of the runtime binary (`state`, `kill`, `delete`, `list`...). */
export interface RuntimeCallEvent {
  command: string;
  durationMs: number;
  outcome: 'ok' | 'error' | 'timeout';
}

/** One abort sequence (TERM, grace, KILL, delete, confirm), however it was asked for. */
export interface AbortEvent {
  durationMs: number;
  gone: boolean;
}

/** What one host sweep found and removed, by kind (`container`, `workspace`, `log`, `problem`...). */
export interface CleanupEvent {
  findings: Record<string, number>;
}

/** One image pull (for the images feature: publish this where an image is fetched). */
export interface ImagePullEvent {
  durationMs: number;
  outcome: 'ok' | 'error' | 'cached';
}

export const channels = {
  step: channel('temporal-runsc:step'),
  containers: channel('temporal-runsc:containers'),
  runtimeCall: channel('temporal-runsc:runtime-call'),
  abort: channel('temporal-runsc:abort'),
  cleanup: channel('temporal-runsc:cleanup'),
  imagePull: channel('temporal-runsc:image-pull'),
} as const;

interface Messages {
  step: StepEvent;
  containers: ContainersEvent;
  runtimeCall: RuntimeCallEvent;
  abort: AbortEvent;
  cleanup: CleanupEvent;
  imagePull: ImagePullEvent;
}

/** Publishes a fact; a no-op while nothing subscribes. (Subscribers catch their own errors.) */
export function publish<K extends keyof Messages>(name: K, message: Messages[K]): void {
  const target = channels[name];
  if (target.hasSubscribers) target.publish(message);
}
