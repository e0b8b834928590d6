/**
 * Many trivial steps at a fixed concurrency through the library (one pipeline whose steps form
 * one parallel group; the in-process worker runs at most `concurrency` containers at once)
 * against the same number of raw runs from a pool of the same size, in the same round.
 *
 * A third arm, the floor, runs the same group through Temporal without the library: a workflow
 * of the same shape (floor-workflows.ts temporalRawGroup) whose activities each spawn one raw
 * run of a bundle written beforehand, on workers laid out as the library lays them out, at the
 * same concurrency. Raw / floor is what Temporal itself leaves of the raw rate on this machine.
 */
import { type CpuTimes, cpuPer, withCpu } from '../cpu.js';
import type { temporalRawGroup } from '../floor-workflows.js';
import { type BenchHarness, inProcessWorkerSettings } from '../harness.js';
import type { BenchPlan } from '../options.js';
import { nowMs, parallelPipeline, runPipeline, warmUp } from '../pipelines.js';
import { say } from '../progress.js';
import type { PreparedRun } from '../raw-runtime.js';
import { median, rotated, round, type Summary, summarize } from '../stats.js';
import { startFloorWorkers } from './temporal-floor.js';

export interface ThroughputResult {
  steps: number;
  concurrency: number;
  /** libraryStepsPerSecond / rawStepsPerSecond, median over rounds. */
  ratio: number;
  /** floorStepsPerSecond / rawStepsPerSecond, median over rounds: Temporal without the library. */
  floorRatio: number;
  stepsPerSecond: { library: number; raw: number; floor: number };
  libraryWallMs: Summary;
  rawWallMs: Summary;
  floorWallMs: Summary;
  /** CPU per step: bench process (client + workers), runsc processes, dev server. */
  cpuPerStepMs: { library: CpuTimes; raw: CpuTimes; floor: CpuTimes };
  samples: {
    libraryWallMs: number[];
    rawWallMs: number[];
    floorWallMs: number[];
    ratio: number[];
    floorRatio: number[];
  };
}

export async function measureThroughput(harness: BenchHarness, plan: BenchPlan): Promise<ThroughputResult> {
  const { throughputSteps: steps, throughputConcurrency: concurrency } = plan;
  if (concurrency !== inProcessWorkerSettings.maxConcurrentContainers) {
    throw new Error(
      `throughput concurrency ${concurrency} must match the in-process worker's ${inProcessWorkerSettings.maxConcurrentContainers}`,
    );
  }
  const input = parallelPipeline(`bench-throughput-${steps}`, steps);
  // The floor's activities take their bundles from here, written before the clock starts, as
  // the raw pool's are.
  let floorRuns: PreparedRun[] = [];
  const floorWorkers = await startFloorWorkers(harness, async () => {
    const prepared = floorRuns.pop();
    if (!prepared) throw new Error('the floor group asked for more raw runs than it was given');
    await harness.raw.runsc.run(prepared);
  });
  const cpu = { library: [] as CpuTimes[], raw: [] as CpuTimes[], floor: [] as CpuTimes[] };
  const libraryRun = async () => {
    const { value, cpu: spent } = await withCpu(harness.devServerPid, () =>
      runPipeline(harness.client, input, harness.taskQueue),
    );
    cpu.library.push(spent);
    return value.wallMs;
  };
  const rawRun = async () => {
    const { value, cpu: spent } = await withCpu(harness.devServerPid, () =>
      harness.raw.runsc.timedPool(steps, concurrency),
    );
    cpu.raw.push(spent);
    return value;
  };
  const floorRun = async (count = steps) => {
    const prepared = await Promise.all(Array.from({ length: count }, () => harness.raw.runsc.prepare()));
    floorRuns = [...prepared];
    try {
      const { value, cpu: spent } = await withCpu(harness.devServerPid, async () => {
        const startedAt = nowMs();
        await harness.client.workflow.execute<typeof temporalRawGroup>('temporalRawGroup', {
          taskQueue: floorWorkers.taskQueue,
          workflowId: `bench-throughput-floor-${Date.now()}`,
          args: [count],
        });
        return nowMs() - startedAt;
      });
      if (count === steps) cpu.floor.push(spent);
      return value;
    } finally {
      await Promise.all(prepared.map((run) => harness.raw.runsc.discard(run)));
    }
  };

  const library: number[] = [];
  const raw: number[] = [];
  const floor: number[] = [];
  const rounds = async () => {
    await warmUp(harness.client, harness.taskQueue);
    await floorRun(concurrency);
    const arms = [
      async () => library.push(await libraryRun()),
      async () => raw.push(await rawRun()),
      async () => floor.push(await floorRun()),
    ];
    for (let round = 0; round < plan.throughputRounds; round++) {
      for (const arm of rotated(arms, round)) await arm();
      say(
        `throughput round ${round + 1}: ${steps} steps at ${concurrency}: library ${Math.round(library.at(-1) as number)} ms, raw ${Math.round(raw.at(-1) as number)} ms, Temporal with raw runs ${Math.round(floor.at(-1) as number)} ms`,
      );
    }
  };
  try {
    // A floor worker that dies would leave its group waiting forever: end the scenario with it.
    await Promise.race([
      rounds(),
      floorWorkers.running.then(() =>
        Promise.reject(new Error('the floor workers stopped during the scenario')),
      ),
    ]);
  } finally {
    await floorWorkers.stop();
  }
  // Steps per second is inverse to wall time, so the ratio of rates is raw wall over library wall.
  const ratios = library.map((wall, i) => (raw[i] as number) / wall);
  const floorRatios = floor.map((wall, i) => (raw[i] as number) / wall);
  const perSecond = (walls: number[]) => round(steps / (median(walls) / 1000), 2);
  return {
    steps,
    concurrency,
    ratio: round(median(ratios), 3),
    floorRatio: round(median(floorRatios), 3),
    stepsPerSecond: { library: perSecond(library), raw: perSecond(raw), floor: perSecond(floor) },
    libraryWallMs: summarize(library),
    rawWallMs: summarize(raw),
    floorWallMs: summarize(floor),
    cpuPerStepMs: {
      library: cpuPer(cpu.library, steps * library.length),
      raw: cpuPer(cpu.raw, steps * raw.length),
      floor: cpuPer(cpu.floor, steps * floor.length),
    },
    samples: {
      libraryWallMs: library.map(Math.round),
      rawWallMs: raw.map(Math.round),
      floorWallMs: floor.map(Math.round),
      ratio: ratios.map((r) => round(r, 3)),
      floorRatio: floorRatios.map((r) => round(r, 3)),
    },
  };
}
