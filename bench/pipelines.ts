/**
 * Pipelines the scenarios run, and a timed run of one through the public client: the clock
 * starts before `startPipeline` and stops when `pipelineResult` resolves, as a user would see it.
 */
import type { Client } from '@temporalio/client';
import { type PipelineHandle, pipelineResult, pipelineStatus, startPipeline } from '../src/client/index.js';
import type { PipelineInput, PipelineResult, StepReport, StepSpec } from '../workflows/types.js';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with history event times. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function trueStep(name: string, extra: Partial<StepSpec> = {}): StepSpec {
  return { name, args: ['/bin/true'], ...extra };
}

export function sequentialPipeline(name: string, steps: number): PipelineInput {
  return { name, steps: Array.from({ length: steps }, (_, i) => trueStep(`s${i + 1}`)) };
}

/** One group: every member runs in parallel, as far as the worker's concurrency allows. */
export function parallelPipeline(
  name: string,
  members: number,
  args: string[] = ['/bin/true'],
): PipelineInput {
  return {
    name,
    steps: Array.from({ length: members }, (_, i) => ({ name: `p${i + 1}`, group: 'all', args })),
  };
}

export interface TimedPipeline {
  handle: PipelineHandle;
  result: PipelineResult;
  /** Client clock (epoch ms) just before the start call. */
  startedAt: number;
  /** Client clock when the result arrived. */
  endedAt: number;
  wallMs: number;
}

export async function runPipeline(
  client: Client,
  input: PipelineInput,
  taskQueue: string,
): Promise<TimedPipeline> {
  const startedAt = nowMs();
  const handle = await startPipeline(client, input, { taskQueue });
  const result = await pipelineResult(handle);
  const endedAt = nowMs();
  if (result.status !== 'completed') {
    throw new Error(
      `pipeline ${handle.workflowId} ended ${result.status}: ${describeFailures(result.steps)}`,
    );
  }
  return { handle, result, startedAt, endedAt, wallMs: endedAt - startedAt };
}

/**
 * One unrecorded one-step pipeline: the first workflow a worker runs pays for its workflow
 * isolate and the connections' first use, which no scenario should count.
 */
export async function warmUp(client: Client, taskQueue: string): Promise<void> {
  await runPipeline(client, sequentialPipeline('bench-warm-up', 1), taskQueue);
}

/** Polls the status query until the step runs in a container (pid and id known). */
export async function waitForRunningStep(
  handle: PipelineHandle,
  name: string,
  timeoutMs = 30_000,
): Promise<StepReport & { containerId: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const step = (await pipelineStatus(handle).catch(() => undefined))?.steps.find((s) => s.name === name);
    if (step?.status === 'running' && step.pid && step.containerId) {
      return step as StepReport & { containerId: string };
    }
    if (step && step.status !== 'running' && step.status !== 'pending') {
      throw new Error(`step ${name} ended (${step.status}) before it was seen running: ${step.error ?? ''}`);
    }
    if (Date.now() > deadline) throw new Error(`step ${name} was not running within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function describeFailures(steps: readonly StepReport[]): string {
  return steps
    .filter((s) => s.status !== 'succeeded')
    .map((s) => `${s.name}: ${s.status} ${s.error ?? ''} ${s.stderrTail.slice(-200)}`)
    .join('; ');
}
