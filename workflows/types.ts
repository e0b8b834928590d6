/**
 * The pipeline contract: what a pipeline file becomes (the workflow input), what the `status`
 * query returns, and the result shape (`../shared/DESIGN.md`, "Public contract"). Plain types.
 */
import type { RunContainerResult } from '../activities/types.js';

/**
 * A pipeline's input, its steps, their retry settings and defaults: inferred from the one step
 * schema (src/spec/step.ts), which the workflow validates its input with (workflows/validate.ts).
 */
export type {
  DurationInput,
  PipelineDefaults,
  PipelineInput,
  RetrySpec,
  StepSpec,
} from '../src/spec/step.js';

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
