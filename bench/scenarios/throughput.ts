/**
 * Many trivial steps at a fixed concurrency through the library (one pipeline whose steps form
 * one parallel group; the in-process worker runs at most `concurrency` containers at once)
 * against the same number of raw runs from a pool of the same size, in the same round.
 */
import { type CpuTimes, cpuPer, withCpu } from '../cpu.js';
import { type BenchHarness, inProcessWorkerSettings } from '../harness.js';
import type { BenchPlan } from '../options.js';
import { parallelPipeline, runPipeline, warmUp } from '../pipelines.js';
import { say } from '../progress.js';
import { median, round, type Summary, summarize } from '../stats.js';

export interface ThroughputResult {
  steps: number;
  concurrency: number;
  /** libraryStepsPerSecond / rawStepsPerSecond, median over rounds. */
  ratio: number;
  stepsPerSecond: { library: number; raw: number };
  libraryWallMs: Summary;
  rawWallMs: Summary;
  /** CPU per step: bench process (client + worker), runsc processes, dev server. */
  cpuPerStepMs: { library: CpuTimes; raw: CpuTimes };
  samples: { libraryWallMs: number[]; rawWallMs: number[]; ratio: number[] };
}

export async function measureThroughput(harness: BenchHarness, plan: BenchPlan): Promise<ThroughputResult> {
  const { throughputSteps: steps, throughputConcurrency: concurrency } = plan;
  if (concurrency !== inProcessWorkerSettings.maxConcurrentContainers) {
    throw new Error(
      `throughput concurrency ${concurrency} must match the in-process worker's ${inProcessWorkerSettings.maxConcurrentContainers}`,
    );
  }
  const input = parallelPipeline(`bench-throughput-${steps}`, steps);
  const libraryCpu: CpuTimes[] = [];
  const rawCpu: CpuTimes[] = [];
  const libraryRun = async () => {
    const { value, cpu } = await withCpu(harness.devServerPid, () =>
      runPipeline(harness.client, input, harness.taskQueue),
    );
    libraryCpu.push(cpu);
    return value.wallMs;
  };
  const rawRun = async () => {
    const { value, cpu } = await withCpu(harness.devServerPid, () =>
      harness.raw.runsc.timedPool(steps, concurrency),
    );
    rawCpu.push(cpu);
    return value;
  };

  await warmUp(harness.client, harness.taskQueue);
  const library: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round < plan.throughputRounds; round++) {
    if (round % 2 === 0) {
      raw.push(await rawRun());
      library.push(await libraryRun());
    } else {
      library.push(await libraryRun());
      raw.push(await rawRun());
    }
    say(
      `throughput round ${round + 1}: ${steps} steps at ${concurrency}: library ${Math.round(library.at(-1) as number)} ms, raw ${Math.round(raw.at(-1) as number)} ms`,
    );
  }
  // Steps per second is inverse to wall time, so the ratio of rates is raw wall over library wall.
  const ratios = library.map((wall, i) => (raw[i] as number) / wall);
  return {
    steps,
    concurrency,
    ratio: round(median(ratios), 3),
    stepsPerSecond: {
      library: round(steps / (median(library) / 1000), 2),
      raw: round(steps / (median(raw) / 1000), 2),
    },
    libraryWallMs: summarize(library),
    rawWallMs: summarize(raw),
    cpuPerStepMs: {
      library: cpuPer(libraryCpu, steps * library.length),
      raw: cpuPer(rawCpu, steps * raw.length),
    },
    samples: {
      libraryWallMs: library.map(Math.round),
      rawWallMs: raw.map(Math.round),
      ratio: ratios.map((r) => round(r, 3)),
    },
  };
}
