/** The common shape of the resource scenarios: one host, one pipeline, run to its end. */
import type { ScenarioContext } from '../harness.js';
import type { TrackedPipeline } from '../pipelines.js';
import { check } from '../scenario.js';
import type { ChaosPipeline } from '../steps.js';
import type { WorkerProcess } from '../workers.js';

export async function runOnePipeline(
  ctx: ScenarioContext,
  pipeline: ChaosPipeline,
  expectedStatus: 'completed' | 'failed',
): Promise<{ worker: WorkerProcess; tracked: TrackedPipeline; root: string; peakRssAtStart: number }> {
  const root = await ctx.root('host');
  const worker = await ctx.startWorker('host', root);
  // The high-water mark of start-up (workflow bundling is the big part), before any step runs.
  const peakRssAtStart = (await worker.peakRssBytes()) ?? 0;
  const tracked = await ctx.startPipeline(pipeline);
  await ctx.settlePipelines(150_000);
  const steps = tracked.result?.steps.map(
    (s) => `${s.name}:${s.status}:${s.exitCode}${s.error ? `:${s.error}` : ''}`,
  );
  check(
    tracked.result?.status === expectedStatus,
    `the pipeline ended ${tracked.result?.status ?? tracked.error}, not ${expectedStatus}: ${JSON.stringify(steps)}`,
  );
  check(worker.alive(), 'the worker died');
  return { worker, tracked, root, peakRssAtStart };
}

export function stepOf(tracked: TrackedPipeline, name: string) {
  const step = tracked.result?.steps.find((s) => s.name === name);
  check(step, `no step ${name} in the result`);
  return step;
}
