/**
 * A worker SIGKILLed at a random moment of its pipelines, round after round, and restarted
 * with the same root and host queue (as systemd would): every pipeline still ends with its
 * steps' true exit codes, and after each round the host is clean.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { containerFiles } from '../audit.js';
import { check, type Scenario } from '../scenario.js';
import { chaosPipeline, exitsWith, killedBySignal, sleepsThenSucceeds } from '../steps.js';

/**
 * Steps of every kind, so the kill lands in any of them or between them. `sleepySeconds` varies
 * by round: a long one outlives the worker's restart, so the restarted worker must find its
 * container (start-up sweep, or the retry's recovery); a short one ends on its own meanwhile.
 */
function roundPipeline(sleepySeconds: number) {
  return chaosPipeline(
    'kill-round',
    [
      sleepsThenSucceeds('prepare', 1),
      sleepsThenSucceeds('sleepy', sleepySeconds, { group: 'checks' }),
      exitsWith('three', 3, { group: 'checks', continueOnError: true }),
      killedBySignal('signalled', { group: 'checks' }),
      exitsWith('after', 0),
    ],
    { finally: [exitsWith('report', 0)] },
  );
}

export const workerKill: Scenario = {
  name: 'worker-kill',
  timeoutMs: (options) => 120_000 + options.rounds * 90_000,
  async run(ctx, options) {
    const host = 'kill-host';
    const root = await ctx.root(host);
    let worker = await ctx.startWorker(host, root);
    let orphansSwept = 0;
    let retriedSteps = 0;
    let killsMidStep = 0;
    for (let round = 1; round <= options.rounds; round++) {
      const count = ctx.random.int(1, 2);
      const sleepySeconds = ctx.random.int(1, 12);
      const killAfterMs = ctx.random.int(0, 2000 + sleepySeconds * 1000);
      const downMs = ctx.random.int(0, 1000);
      const where = `round ${round} (seed ${ctx.env.seed}, ${count} pipeline(s), sleepy ${sleepySeconds} s, kill at ${killAfterMs} ms, down ${downMs} ms)`;
      ctx.note(where);
      const pipelines = [];
      for (let i = 0; i < count; i++) pipelines.push(await ctx.startPipeline(roundPipeline(sleepySeconds)));
      await sleep(killAfterMs, undefined, { signal: ctx.signal });
      const runningAtKill = await containersIn(root);
      if (runningAtKill > 0) killsMidStep++;
      await worker.sigkill();
      await sleep(downMs, undefined, { signal: ctx.signal });
      worker = await ctx.startWorker(host, root);
      const swept = worker.ready.sweep?.containers.filter((c) => c.action === 'aborted').length ?? 0;
      orphansSwept += swept;
      ctx.note(`${where}: ${runningAtKill} container(s) at the kill, ${swept} swept at restart`);
      check(
        (worker.ready.sweep?.problems ?? []).length === 0,
        `${where}: the restarted worker's sweep reported ${worker.ready.sweep?.problems.join('; ')}`,
      );

      await ctx.settlePipelines(120_000, pipelines).catch((error: Error) => {
        throw new Error(`${where}: ${error.message}`);
      });
      for (const pipeline of pipelines) {
        check(
          pipeline.result?.status === 'completed',
          `${where}: ${pipeline.workflowId} ended ${pipeline.result?.status ?? pipeline.error}: ${JSON.stringify(
            pipeline.result?.steps
              .filter((s) => s.status !== 'succeeded')
              .map((s) => `${s.name}:${s.status}:${s.error ?? ''}`),
          )}`,
        );
        retriedSteps += pipeline.result.steps.filter((s) => s.attempts > 1).length;
      }
      const report = await ctx.audit({ pipelines });
      check(report.problems.length === 0, `${where}: ${report.problems.join('; ')}`);
    }
    check(worker.alive(), 'the last worker died on its own');
    return `${options.rounds} rounds (${killsMidStep} killed mid-step), ${ctx.pipelines.length} pipelines, ${retriedSteps} step(s) retried, ${orphansSwept} orphan container(s) swept at restart`;
  },
};

/** Containers with a state file in the root right now (what a kill would orphan). */
async function containersIn(root: string): Promise<number> {
  return (await containerFiles(root, 'state')).length;
}
