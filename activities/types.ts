/**
 * Plain types shared by the activities and the workflows. No runtime code: workflow code imports
 * these with `import type`, so nothing here reaches the workflow bundle. The container spec's
 * types are inferred from its schema (src/spec/container.ts).
 */
import type { RunContainerInputShape } from './input.js';

export type { ContainerSpec, LimitsInput, MountInput } from '../src/spec/container.js';

/** What to do with a container exit code. */
export interface ExitPolicy {
  /** Codes that count as success. Default `[0]`. */
  exitCodes?: number[];
  /** `nonzero` (default): a failing code fails the activity. `never`: return the result untouched. */
  failOn?: 'nonzero' | 'never';
  /** Failing codes that no retry can fix (the attempt fails for good). */
  nonRetryableExitCodes?: number[];
  /** When given, only these failing codes are retried; every other failing code is final. */
  retryableExitCodes?: number[];
}

/**
 * The activity's input: the step's container spec and the exit policy, inferred from the one
 * schema (activities/input.ts, which checks it at the start of every attempt).
 */
export type RunContainerInput = RunContainerInputShape;

/** Where a container of an earlier attempt ran and what became of it. */
export interface PreviousAttempt {
  containerId: string;
  host: string;
  hostQueue: string;
  /** `cleaned`: it was on this host and is gone now. `other-host`: the workflow should route cleanup there. */
  outcome: 'cleaned' | 'already-gone' | 'other-host' | 'cleanup-failed';
}

export interface RunContainerResult {
  step: string;
  containerId: string;
  exitCode: number;
  signal: string | null;
  durationMs: number;
  stdoutTail: string;
  stderrTail: string;
  stdoutBytes: number;
  stderrBytes: number;
  /** The attempt's output log on the worker host (capped: head and tail, see logCaps). */
  logPath: string;
  /** Why the log stopped early (a full disk, say); the tails are whole regardless. */
  logError?: string;
  host: string;
  hostQueue: string;
  attempt: number;
  /** The parsed `/out/result.json` the step wrote, if any. */
  result?: unknown;
  /** Why the result file was refused (too large, not a regular file, not JSON); never its content. */
  resultError?: string;
  previousAttempt?: PreviousAttempt;
  /** The image the step ran from, and the digest its reference resolved to. */
  image?: ImageRecordOfRun;
}

/** Which image a step ran from: what it named and the manifest digest that was used. */
export interface ImageRecordOfRun {
  reference: string;
  digest: string;
}

/** What each heartbeat records: enough for the next attempt (or an operator) to find the container. */
export interface RunHeartbeat {
  /** The pipeline step: clients match a pending activity's heartbeat to its step by it. */
  step?: string;
  containerId: string;
  pid?: number;
  host: string;
  hostQueue: string;
  startedAt: string;
  stdoutBytes: number;
  stderrBytes: number;
  /** The image's digest as this attempt resolved it: a retry uses the same one. */
  image?: ImageRecordOfRun;
  /** The step's latest line of output (masked, at most 200 characters): `run` shows it. */
  lastLine?: string;
}

export interface ContainerRef {
  containerId: string;
}
