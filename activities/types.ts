/**
 * Plain types shared by the activities and the workflows. No runtime code: workflow code imports
 * these with `import type`, so nothing here reaches the workflow bundle.
 */

export interface MountInput {
  source: string;
  destination: string;
  readOnly?: boolean;
}

export interface LimitsInput {
  memoryBytes?: number;
  cpus?: number;
  pids?: number;
}

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

/** What runs in the container: shared by the activity input and the pipeline's steps. */
export interface ContainerSpec {
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  user?: { uid: number; gid: number };
  mounts?: MountInput[];
  limits?: LimitsInput;
  /** Root filesystem (absolute path on the worker host); the worker's default when not given. */
  rootfs?: string;
  /** `none` (default), `sandbox` (gVisor's own network stack) or `host`: as the worker's policy allows. */
  network?: 'none' | 'sandbox' | 'host';
  /**
   * Secrets from the worker's store, as environment variables: `[NAME]` (the variable is the
   * name) or `{ VAR: NAME }`. Only names travel through the workflow; the worker reads the values.
   */
  secrets?: string[] | Record<string, string>;
}

export interface RunContainerInput extends ContainerSpec, ExitPolicy {
  /** The step's name: shown in logs and results. */
  step: string;
  /** Size of the writable /tmp, in bytes. */
  tmpfsBytes?: number;
  /** TERM-to-KILL grace when the step is cancelled, in ms. */
  graceMs?: number;
}

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
  /** The step's latest line of output (masked, at most 200 characters): `run` shows it. */
  lastLine?: string;
}

export interface ContainerRef {
  containerId: string;
}
