/**
 * Runs scenarios one after another, each against its own roots, and turns each into one line:
 * `PASS <name> (<s>s) <detail>` or `FAIL <name>: <reason>`. Shared by `npm run chaos` and the
 * short version inside `npm test`.
 */
import { setMaxListeners } from 'node:events';
import { ScenarioContext, type SuiteEnv } from './harness.js';
import { scenarioRandom } from './random.js';
import { type Scenario, ScenarioFailure, type SuiteOptions } from './scenario.js';

export interface ScenarioOutcome {
  name: string;
  passed: boolean;
  seconds: number;
  /** The scenario's line, as printed. */
  line: string;
}

export async function runScenario(
  env: SuiteEnv,
  scenario: Scenario,
  options: SuiteOptions,
  interrupt: AbortSignal,
): Promise<ScenarioOutcome> {
  const startedAt = Date.now();
  const controller = new AbortController();
  // Every pipeline the scenario awaits listens to it: a cancel storm alone adds twenty.
  setMaxListeners(1000, controller.signal);
  const onInterrupt = () => controller.abort(new Error('interrupted (Ctrl-C)'));
  interrupt.addEventListener('abort', onInterrupt, { once: true });
  if (interrupt.aborted) onInterrupt();
  const ctx = new ScenarioContext(
    env,
    scenario.name,
    scenarioRandom(env.seed, scenario.name),
    controller.signal,
  );
  await ctx.prepare();

  let failure: string | undefined;
  let detail = '';
  try {
    detail = await withDeadline(scenario.run(ctx, options), scenario.timeoutMs(options), controller);
    await ctx.settlePipelines(120_000);
    const report = await ctx.audit();
    if (report.problems.length > 0) failure = `audit: ${summarise(report.problems)}`;
    else detail += `; audit clean (${report.stepsChecked} exit codes)`;
  } catch (error) {
    if (error instanceof ScenarioFailure) {
      // The scenario's own check failed; the host's state may tell more: audit it all the same.
      failure = error.message;
      const report = await ctx
        .settlePipelines(30_000)
        .then(() => ctx.audit({ settleMs: 5000 }))
        .catch(() => undefined);
      if (report && report.hostProblems.length > 0) failure += `; audit: ${summarise(report.hostProblems)}`;
    } else {
      failure = `${(error as Error).name}: ${(error as Error).message}`;
    }
  } finally {
    interrupt.removeEventListener('abort', onInterrupt);
    controller.abort(new Error('scenario over'));
    const notes = await ctx.teardown({ keepWorkDir: failure !== undefined || options.keep === true });
    if (failure && notes.length > 0) failure += ` [teardown: ${summarise(notes)}]`;
  }
  const seconds = (Date.now() - startedAt) / 1000;
  const line = failure
    ? `FAIL ${scenario.name}: ${oneLine(failure)} (after ${seconds.toFixed(1)}s; logs in ${ctx.workDir})`
    : `PASS ${scenario.name} (${seconds.toFixed(1)}s) ${oneLine(detail)}`;
  return { name: scenario.name, passed: failure === undefined, seconds, line };
}

/** The scenario's promise, or a failure once its time is up or the run is interrupted. */
async function withDeadline<T>(work: Promise<T>, timeoutMs: number, controller: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  // A scenario that gives up on its own after the abort must not become an unhandled rejection.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function summarise(items: readonly string[], max = 4): string {
  const shown = items.slice(0, max).join('; ');
  return items.length > max ? `${shown}; and ${items.length - max} more` : shown;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
