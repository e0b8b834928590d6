/**
 * The pipeline contract: what a pipeline file becomes (the workflow input), what the `status`
 * query returns, and the result shape (`../shared/DESIGN.md`, "Public contract"). Plain types.
 */
import type { ContainerSpec, LimitsInput, RunContainerResult } from '../activities/types.js';

/** A duration as Temporal takes it: milliseconds, or a string like `30s`, `5m`, `1h`. */
export type DurationInput = string | number;

export interface RetrySpec {
  /** Attempts in all, the first included. 1 = no retry. Default 3. */
  maximumAttempts?: number;
  initialInterval?: DurationInput;
  backoffCoefficient?: number;
  maximumInterval?: DurationInput;
  /** Exit codes that end the step at once, without retry. */
  nonRetryableExitCodes?: number[];
  /** When given, only these exit codes are retried. */
  retryableExitCodes?: number[];
}

export interface StepSpec extends ContainerSpec {
  name: string;
  /** startToClose timeout of one attempt. Default 10m. */
  timeout?: DurationInput;
  /** How long the worker may go silent before the attempt counts as lost. Default 10s. */
  heartbeatTimeout?: DurationInput;
  retry?: RetrySpec;
  /** Exit codes that count as success. Default [0]. */
  exitCodes?: number[];
  /** Steps that share a group run in parallel; groups and lone steps run in file order. */
  group?: string;
  /** A failure of this step is recorded but does not stop the pipeline. */
  continueOnError?: boolean;
}

export interface PipelineDefaults {
  rootfs?: string;
  limits?: LimitsInput;
  retry?: RetrySpec;
  timeout?: DurationInput;
  heartbeatTimeout?: DurationInput;
  env?: Record<string, string>;
  /**
   * How long a step may wait for its host's worker to pick it up before the step moves to
   * another host (the host is taken for lost). Default 5m.
   */
  queueTimeout?: DurationInput;
}

export interface PipelineInput {
  name: string;
  defaults?: PipelineDefaults;
  steps: StepSpec[];
  /** Steps that always run at the end (after success, failure or cancellation). */
  finally?: StepSpec[];
}

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export interface StepReport {
  name: string;
  status: StepStatus;
  /** Set for steps of the `finally` list. */
  finally?: boolean;
  exitCode: number | null;
  signal: string | null;
  attempts: number;
  containerId: string | null;
  host: string | null;
  pid?: number | null;
  /** While it runs: its latest line of output (from its heartbeat; filled in by the client). */
  lastLine?: string;
  durationMs: number | null;
  stdoutTail: string;
  stderrTail: string;
  /** The parsed `/out/result.json` of the step, if it wrote one. */
  result?: unknown;
  /** Why the step failed, in one line. */
  error?: string;
}

export type PipelineStatus = 'running' | 'completed' | 'failed' | 'cancelled';

export interface PipelineResult {
  workflowId: string;
  status: Exclude<PipelineStatus, 'running'>;
  steps: StepReport[];
}

export interface PipelineStatusSnapshot {
  workflowId: string;
  name: string;
  status: PipelineStatus;
  steps: StepReport[];
}

/** The part of a runContainer heartbeat the workflow reads from a timed-out attempt. */
export interface RunHeartbeatLike {
  containerId: string;
  host: string;
  hostQueue: string;
}

export type { RunContainerResult };
