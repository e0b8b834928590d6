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
  /** While it runs: its latest line of output (from its heartbeat; filled in by the client). */
  lastLine?: string;
  durationMs: number | null;
  stdoutTail: string;
  stderrTail: string;
  /** The parsed `/out/result.json` of the step, if it wrote one. */
  result?: unknown;
  /** Why the step failed, in one line (at most 2,000 characters). */
  error?: string;
  /** The image the step ran from and the digest its reference resolved to. */
  image?: { reference: string; digest: string };
  /**
   * Set when the record was cut to keep the pipeline's result within Temporal's payload limit
   * (a parallel group too large for it): its tails are shorter, its result may be left out.
   * The attempt's log on its host (`<workDir>/logs/<containerId>.log`) has the output.
   */
  truncated?: true;
}

export type PipelineStatus = 'running' | 'completed' | 'failed' | 'cancelled';

/**
 * What the records of a workflow run leave out: the steps earlier runs recorded (a pipeline too
 * long for one run continues as new, and each run's input carries the records of the run before
 * it) and steps not listed (pending or skipped past the listing cap). The client puts the whole
 * list together (src/client: pipelineResult); a result without these fields is whole already.
 */
export interface RecordsLeftOut {
  /** Earlier runs of the pipeline (continue-as-new) and how many steps they recorded. */
  earlier?: { runs: number; steps: number; counts: Partial<Record<StepStatus, number>> };
  /** Steps of this run neither run nor listed (pending, or skipped), by count. */
  unlisted?: number;
}

export interface PipelineResult extends RecordsLeftOut {
  workflowId: string;
  status: Exclude<PipelineStatus, 'running'>;
  steps: StepReport[];
  /** Why the pipeline failed outside its steps (an input that cannot run, say). */
  error?: string;
}

export interface PipelineStatusSnapshot extends RecordsLeftOut {
  workflowId: string;
  name: string;
  status: PipelineStatus;
  steps: StepReport[];
}

/**
 * The second argument of sandboxPipeline: how a run goes on from the run before it (continue-
 * as-new). A client starts a pipeline without it.
 */
export interface PipelineRunState {
  /** Steps of the pipeline decided by earlier runs: this run starts at `input.steps[offset]`. */
  offset?: number;
  /** Runs before this one. */
  runs?: number;
  /** The records of the steps the previous run ran (the client reads them back from here). */
  records?: StepReport[];
  /** How many steps all earlier runs recorded, by status. */
  counts?: Partial<Record<StepStatus, number>>;
  /** Exit codes and results of earlier steps that steps of this run refer to. */
  outcomes?: Record<string, { exitCode: number | null; result?: unknown }>;
  /** How references resolve, as the first run decided (workflows/pipeline.ts). */
  asData?: boolean;
  /**
   * Bytes the records of one run may take before the pipeline continues as new; lowered only
   * (tests continue sooner with it), never raised past the default.
   */
  recordBudgetBytes?: number;
}

/** The part of a runContainer heartbeat the workflow reads from a timed-out attempt. */
export interface RunHeartbeatLike {
  containerId: string;
  host: string;
  hostQueue: string;
}

export type { RunContainerResult };
