/**
 * The Temporal dev server stopped mid-pipeline and started again on the same database file:
 * the worker rides out the outage, running steps finish or are retried, and every pipeline
 * ends with its steps' true exit codes.
 */
import { isRunning, waitForStep } from '../pipelines.js';
import { check, type Scenario, ScenarioFailure, seconds } from '../scenario.js';
import { chaosPipeline, exitsWith, killedBySignal, sleepsThenSucceeds } from '../steps.js';

export const serverRestart: Scenario = {
  name: 'server-restart',
  timeoutMs: () => 300_000,
  async run(ctx) {
    const restart = ctx.env.server.restart;
    check(restart, 'this suite runs against a server it cannot restart');
    const root = await ctx.root('host');
    const worker = await ctx.startWorker('host', root);
    const pipelines = [];
    for (let i = 0; i < 3; i++) {
      pipelines.push(
        await ctx.startPipeline(
          chaosPipeline(
            'server-restart',
            [
              sleepsThenSucceeds('before', 1),
              sleepsThenSucceeds('across', 5),
              exitsWith('code', 3, { continueOnError: true }),
              killedBySignal('signalled'),
            ],
            { finally: [exitsWith('report', 0)] },
          ),
        ),
      );
    }
    for (const pipeline of pipelines) await waitForStep(pipeline.handle, 'across', isRunning, 60_000);
    const downMs = ctx.random.int(1000, 5000);
    const stoppedAt = Date.now();
    await restart(downMs);
    ctx.note(`server down for ${downMs} ms, back after ${Date.now() - stoppedAt} ms`);

    await ctx.settlePipelines(180_000);
    if (!worker.alive()) {
      throw new ScenarioFailure(
        `the worker exited during the server's restart: ${JSON.stringify(await worker.exited)}`,
      );
    }
    for (const pipeline of pipelines) {
      check(
        pipeline.result?.status === 'completed',
        `${pipeline.workflowId} ended ${pipeline.result?.status ?? pipeline.error} instead of completed`,
      );
    }
    const retried = pipelines.flatMap((p) => p.result?.steps ?? []).filter((s) => s.attempts > 1).length;
    return `server down ${seconds(downMs)}s mid-step; ${pipelines.length} pipelines completed, ${retried} step(s) retried`;
  },
};
