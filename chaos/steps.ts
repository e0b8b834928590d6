/**
 * Steps whose exit code is known in advance, whatever the chaos does around them (a retry, a
 * host move, a server restart): the audit compares what the pipeline recorded with these.
 */
import type { PipelineDefaults, PipelineInput, StepSpec } from '../workflows/types.js';

export interface StepExpectation {
  /**
   * The code the step's script ends with whenever it runs to its end; `null` for a step that
   * never ends on its own (it cannot start), so no exit code may be recorded for it.
   */
  exitCode: number | null;
  /** Why that is the truth, for the failure message. */
  why: string;
  /**
   * The sandbox itself may crash under this step (a fork storm that exhausts the pids limit of
   * a ptrace sandbox): then the true record is a failed step with no exit code and a runtime
   * error naming the crash, never runsc's own exit code passed off as the step's.
   */
  sandboxMayCrash?: boolean;
}

/** Whether a step's record is a truthful report of a sandbox crash. */
export function isRecordedSandboxCrash(step: {
  status: string;
  exitCode: number | null;
  error?: string;
}): boolean {
  return step.status === 'failed' && step.exitCode === null && /sandbox crashed/.test(step.error ?? '');
}

export interface ChaosStep {
  spec: StepSpec;
  expect: StepExpectation;
}

export interface ChaosPipeline {
  input: PipelineInput;
  expectations: Record<string, StepExpectation>;
}

/**
 * Defaults for chaos pipelines: a lost worker is noticed in 5 s and a killed attempt is retried
 * soon, so a round does not wait minutes for Temporal's own timeouts. (2 s proved too tight:
 * on a loaded 2-core machine, 20 sandboxes starting at once delay heartbeats past it.)
 */
export const chaosDefaults: PipelineDefaults = {
  heartbeatTimeout: '5s',
  timeout: '3m',
  retry: { maximumAttempts: 8, initialInterval: '200ms', backoffCoefficient: 1.5, maximumInterval: '2s' },
};

export function chaosPipeline(
  name: string,
  steps: ChaosStep[],
  options: { finally?: ChaosStep[]; defaults?: PipelineDefaults } = {},
): ChaosPipeline {
  const all = [...steps, ...(options.finally ?? [])];
  return {
    input: {
      name,
      defaults: { ...chaosDefaults, ...options.defaults },
      steps: steps.map((step) => step.spec),
      ...(options.finally ? { finally: options.finally.map((step) => step.spec) } : {}),
    },
    expectations: Object.fromEntries(all.map((step) => [step.spec.name, step.expect])),
  };
}

const sh = (script: string) => ['/bin/sh', '-c', script];

/** `exit <code>`, never retried: recorded as a failure with exactly that code. */
export function exitsWith(name: string, code: number, extra: Partial<StepSpec> = {}): ChaosStep {
  return {
    spec: {
      name,
      args: sh(`exit ${code}`),
      ...(code === 0 ? {} : { retry: { nonRetryableExitCodes: [code] } }),
      ...extra,
    },
    expect: { exitCode: code, why: `its script is \`exit ${code}\`` },
  };
}

/** Sleeps, then `exit 0`: the window in which chaos strikes mid-step. */
export function sleepsThenSucceeds(name: string, seconds: number, extra: Partial<StepSpec> = {}): ChaosStep {
  return {
    spec: { name, args: sh(`sleep ${seconds}; exit 0`), ...extra },
    expect: { exitCode: 0, why: `its script is \`sleep ${seconds}; exit 0\`` },
  };
}

/**
 * A child shell SIGKILLs itself and the step exits with the child's status: 137 (128 + 9), the
 * shell's way of saying "killed by signal 9". Counted as success so the pipeline goes on.
 */
export function killedBySignal(name: string, extra: Partial<StepSpec> = {}): ChaosStep {
  return {
    // `$$$$`: the pipeline turns `$$` into a literal `$`, so the child shell sees its own `$$`.
    spec: { name, args: sh(`sh -c 'kill -9 $$$$'; exit $?`), exitCodes: [0, 137], ...extra },
    expect: { exitCode: 137, why: 'its child shell is killed by SIGKILL and it exits with that status' },
  };
}

/**
 * Appends a line to `<stateDir>/attempts`, mounted read-write: the first attempt then hangs
 * (so that chaos can strike it), every later attempt exits 0. The step's truth is 0.
 */
export function hangsOnFirstAttempt(
  name: string,
  stateDir: string,
  extra: Partial<StepSpec> = {},
): ChaosStep {
  return {
    spec: {
      name,
      args: sh(
        'echo x >> /state/attempts; if [ $(wc -l < /state/attempts) -ge 2 ]; then exit 0; fi; sleep 600',
      ),
      mounts: [{ source: stateDir, destination: '/state', readOnly: false }],
      ...extra,
    },
    expect: {
      exitCode: 0,
      why: 'every attempt after the first exits 0, and the first never ends on its own',
    },
  };
}

/** Runs for ten minutes: only a cancellation ends it, and then it has no exit code to record. */
export function runsUntilCancelled(name: string, extra: Partial<StepSpec> = {}): ChaosStep {
  return {
    spec: { name, args: sh('sleep 600'), ...extra },
    expect: { exitCode: null, why: 'it sleeps for ten minutes and is only ever cancelled' },
  };
}

/** Like runsUntilCancelled, but deaf to SIGTERM (it and its children): only SIGKILL ends it. */
export function ignoresTermUntilKilled(name: string, extra: Partial<StepSpec> = {}): ChaosStep {
  return {
    spec: { name, args: sh("trap '' TERM; while :; do sleep 1; done"), ...extra },
    expect: { exitCode: null, why: 'it ignores SIGTERM and loops for ever, so it is only ever cancelled' },
  };
}

/** A step with a script of your own and the code it is known to end with. */
export function scripted(
  name: string,
  script: string,
  expect: StepExpectation,
  extra: Partial<StepSpec> = {},
): ChaosStep {
  return { spec: { name, args: sh(script), ...extra }, expect };
}
