/**
 * A cancellation storm: many pipelines, each with a running container, all cancelled at the
 * same moment; half of the steps ignore SIGTERM, so their abort has to go on to SIGKILL. Every
 * pipeline ends `cancelled`, every `finally` step runs, and every container is gone soon after.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { cancelPipeline } from '../../src/client/index.js';
import { Runsc } from '../../src/runtime/index.js';
import { runtimeUnderTest } from '../../test/support/runsc-builds.js';
import { containerFiles } from '../audit.js';
import { isRunning, type TrackedPipeline, waitForStep } from '../pipelines.js';
import { check, type Scenario, seconds } from '../scenario.js';
import { chaosPipeline, exitsWith, ignoresTermUntilKilled, runsUntilCancelled } from '../steps.js';

export const cancelStorm: Scenario = {
  name: 'cancel-storm',
  timeoutMs: (options) => 120_000 + options.stormSize * 10_000,
  async run(ctx, options) {
    const root = await ctx.root('host');
    await ctx.startWorker('host', root, { maxContainers: options.stormSize });
    const pipelines: TrackedPipeline[] = [];
    for (let i = 0; i < options.stormSize; i++) {
      const long = i % 2 === 0 ? runsUntilCancelled('long') : ignoresTermUntilKilled('long');
      pipelines.push(
        await ctx.startPipeline(
          chaosPipeline('cancel-storm', [long], { finally: [exitsWith('cleanup-note', 0)] }),
        ),
      );
    }
    const containerIds = new Set<string>();
    for (const pipeline of pipelines) {
      const running = await waitForStep(pipeline.handle, 'long', isRunning, 120_000);
      containerIds.add(running.containerId as string);
    }
    const runtime = new Runsc({ root, command: runtimeUnderTest() });
    const before = await runningCount(runtime, containerIds, 60_000);
    check(
      before === options.stormSize,
      `${before} of ${options.stormSize} containers running before the storm`,
    );

    const cancelledAt = Date.now();
    await Promise.all(pipelines.map((p) => cancelPipeline(p.handle)));
    let goneMs: number | undefined;
    while (Date.now() - cancelledAt < 60_000) {
      // The folder, not `runsc list`: listing containers that are being destroyed leaves locks.
      const files = await containerFiles(root, 'state');
      if (!files.some((name) => containerIds.has(name.slice(0, name.indexOf('_sandbox:'))))) {
        goneMs = Date.now() - cancelledAt;
        break;
      }
      await sleep(100);
    }
    await ctx.settlePipelines(120_000);
    for (const pipeline of pipelines) {
      const steps = pipeline.result?.steps ?? [];
      check(
        pipeline.result?.status === 'cancelled' &&
          steps.find((s) => s.name === 'long')?.status === 'cancelled' &&
          steps.find((s) => s.name === 'cleanup-note')?.status === 'succeeded',
        `${pipeline.workflowId}: ${pipeline.result?.status ?? pipeline.error}, steps ${JSON.stringify(steps.map((s) => `${s.name}:${s.status}`))}`,
      );
    }
    check(goneMs !== undefined, 'containers of cancelled steps still there 60 s after the storm');
    return `${options.stormSize} pipelines (half deaf to SIGTERM) cancelled at once; their containers gone ${seconds(goneMs)}s later; all finally steps ran`;
  },
};

/** How many of the ids run, once all do or at the deadline (one still being created does not count). */
async function runningCount(runtime: Runsc, ids: Set<string>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = await runtime.list().catch(() => []);
    const running = listed.filter((c) => ids.has(c.id) && c.status === 'running').length;
    if (running === ids.size || Date.now() > deadline) return running;
    await sleep(200);
  }
}
