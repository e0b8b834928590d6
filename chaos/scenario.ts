/** What a chaos scenario is, and how it says that an expectation broke. */
import type { ScenarioContext } from './harness.js';

export interface SuiteOptions {
  /** Kill rounds of the worker-kill scenario. */
  rounds: number;
  /** Pipelines cancelled at once by the cancel-storm scenario. */
  stormSize: number;
  /** Keep the work folder (logs) of passing scenarios too. */
  keep?: boolean;
}

export interface Scenario {
  name: string;
  /** How long it may take before it counts as hung (teardown then ends everything). */
  timeoutMs(options: SuiteOptions): number;
  /** Runs the chaos and its own checks; returns a short detail for the PASS line. */
  run(ctx: ScenarioContext, options: SuiteOptions): Promise<string>;
}

/** An expectation of the scenario that did not hold: the FAIL line shows the message alone. */
export class ScenarioFailure extends Error {
  override name = 'ScenarioFailure';
}

export function check(condition: unknown, reason: string): asserts condition {
  if (!condition) throw new ScenarioFailure(reason);
}

/** Seconds with one decimal, for details. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
