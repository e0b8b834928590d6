/**
 * The one JSON object of `npm run bench -- --json`: the figures first (medians, named as
 * the issue names them), each target with its verdict, then every scenario's details and raw
 * samples. A scenario that did not run (or failed) leaves its figures null.
 */

import type { BenchPlan } from './options.js';
import type { Leftovers } from './root-sweep.js';
import type { CancelResult } from './scenarios/cancel.js';
import type { CliStartupResult } from './scenarios/cli-startup.js';
import type { CrashRecoveryResult } from './scenarios/crash-recovery.js';
import type { LongPipelineResult } from './scenarios/long-pipeline.js';
import type { PipelineSequentialResult } from './scenarios/pipeline-sequential.js';
import type { RawRunResult } from './scenarios/raw-run.js';
import type { StepOverheadResult, StepSplit } from './scenarios/step-overhead.js';
import type { TemporalFloorResult } from './scenarios/temporal-floor.js';
import type { ThroughputResult } from './scenarios/throughput.js';
import type { WorkerRssResult } from './scenarios/worker-rss.js';

export interface ScenarioResults {
  raw?: RawRunResult;
  overhead?: StepOverheadResult;
  floor?: TemporalFloorResult;
  pipeline?: PipelineSequentialResult;
  throughput?: ThroughputResult;
  cancel?: CancelResult;
  crash?: CrashRecoveryResult;
  rss?: WorkerRssResult;
  cli?: CliStartupResult;
  long?: LongPipelineResult;
}

export interface BenchMeta {
  startedAt: string;
  durationS: number;
  quick: boolean;
  runs: number;
  plan: BenchPlan;
  machine: { cpus: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  runsc: string;
  runc: string | null;
  settings: Record<string, unknown>;
  notes: string[];
  errors: Record<string, string>;
  leftBehind: Leftovers;
}

export interface Verdict {
  target: string;
  value: number | null;
  met: boolean | null;
}

export interface BenchJson {
  /** `run` of the runsc under test (TEMPORAL_RUNSC_TEST_RUNTIME, else PATH's). */
  rawRunMs: number | null;
  /** `run` of each supported runsc build (medians, paired in the same rounds). */
  rawRunMsByBuild: { current: number | null; debian2022: number | null };
  runcRunMs: number | null;
  stepOverheadMs: number | null;
  stepOverheadSplitMs: StepSplit | null;
  /** Same workflow shape and worker layout as a one-step pipeline, no container: Temporal's part. */
  temporalFloorMs: number | null;
  /** Median of per-round (step overhead - floor): what the library itself adds to a step. */
  libraryOverAboveFloorMs: number | null;
  /** The least any workflow with one (no-op) activity costs on this server, every eager path on. */
  bareTemporalFloorMs: number | null;
  pipeline20Ratio: number | null;
  throughputRatio: number | null;
  /** The throughput scenario's shape through Temporal with raw runtime runs as activities. */
  throughputFloorRatio: number | null;
  stepsPerSecond: { library: number; raw: number; floor: number } | null;
  cancelToGoneMs: { p50: number; p95: number } | null;
  cancelToGoneIgnoringTermMs: { p50: number; p95: number; graceMs: number } | null;
  crashRecoveryMs: number | null;
  workerRssMb: {
    idle: number;
    at16Containers: number;
    floodPeak: number;
    floodGrowth: number;
    floodBytes: number;
  } | null;
  /** The compiled CLI's `--help` and `status` against a bare `node -e 0` (medians, same rounds). */
  cliStartupMs: { bare: number; help: number; status: number; helpRatio: number; statusRatio: number } | null;
  targets: Record<string, Verdict>;
  details: ScenarioResults;
  meta: BenchMeta;
}

export function buildBenchJson(results: ScenarioResults, meta: BenchMeta): BenchJson {
  const { raw, overhead, floor, pipeline, throughput, cancel, crash, rss, cli } = results;
  const figures: Omit<BenchJson, 'targets' | 'details' | 'meta'> = {
    rawRunMs: raw?.rawRunMs.p50 ?? null,
    rawRunMsByBuild: {
      current: raw?.rawRunMsByBuild.current?.p50 ?? null,
      debian2022: raw?.rawRunMsByBuild.debian2022?.p50 ?? null,
    },
    runcRunMs: raw?.runcRunMs?.p50 ?? null,
    stepOverheadMs: overhead?.stepOverheadMs ?? null,
    stepOverheadSplitMs: overhead?.splitMs ?? null,
    temporalFloorMs: floor?.temporalFloorMs ?? null,
    libraryOverAboveFloorMs: floor?.libraryOverAboveFloorMs ?? null,
    bareTemporalFloorMs: floor?.bareTemporalFloorMs ?? null,
    pipeline20Ratio: pipeline?.ratio ?? null,
    throughputRatio: throughput?.ratio ?? null,
    throughputFloorRatio: throughput?.floorRatio ?? null,
    stepsPerSecond: throughput?.stepsPerSecond ?? null,
    cancelToGoneMs: cancel
      ? { p50: cancel.exitsOnTerm.cancelToGoneMs.p50, p95: cancel.exitsOnTerm.cancelToGoneMs.p95 }
      : null,
    cancelToGoneIgnoringTermMs: cancel
      ? {
          p50: cancel.ignoresTerm.cancelToGoneMs.p50,
          p95: cancel.ignoresTerm.cancelToGoneMs.p95,
          graceMs: cancel.ignoresTerm.graceMs,
        }
      : null,
    crashRecoveryMs: crash?.crashRecoveryMs.p50 ?? null,
    workerRssMb: rss
      ? {
          idle: rss.idleMb,
          at16Containers: rss.concurrent.peakMb,
          floodPeak: rss.flood.peakMb,
          floodGrowth: rss.flood.growthMb,
          floodBytes: rss.flood.bytes,
        }
      : null,
    cliStartupMs: cli
      ? {
          bare: cli.wallMs.bare.p50,
          help: cli.wallMs.help.p50,
          status: cli.wallMs.status.p50,
          helpRatio: cli.helpRatio,
          statusRatio: cli.statusRatio,
        }
      : null,
  };
  // Key order is reading order: the figures, their verdicts, then how they were obtained.
  return { ...figures, targets: verdicts(figures), details: results, meta };
}

function verdicts(json: Omit<BenchJson, 'targets' | 'details' | 'meta'>): Record<string, Verdict> {
  const atMost = (target: string, value: number | null | undefined, limit: number): Verdict => ({
    target,
    value: value ?? null,
    met: value === null || value === undefined ? null : value <= limit,
  });
  const atLeast = (target: string, value: number | null | undefined, limit: number): Verdict => ({
    target,
    value: value ?? null,
    met: value === null || value === undefined ? null : value >= limit,
  });
  // "Bounded under a flood": the worker may not grow by more than a fixed 64 MiB while 1 GiB
  // passes through it, i.e. growth does not follow the output's size.
  const floodBoundMb = 64;
  return {
    stepOverheadMs: atMost('<= 50 ms', json.stepOverheadMs, 50),
    pipeline20Ratio: atMost('<= 1.3', json.pipeline20Ratio, 1.3),
    throughputRatio: atLeast('>= 0.8', json.throughputRatio, 0.8),
    cancelToGoneP95Ms: atMost('p95 <= 1000 ms', json.cancelToGoneMs?.p95, 1000),
    workerRssAt16Mb: atMost('<= 200 MB', json.workerRssMb?.at16Containers, 200),
    cliHelpRatio: atMost('<= 2.5 x node -e 0', json.cliStartupMs?.helpRatio, 2.5),
    cliStatusMs: atMost('<= 350 ms', json.cliStartupMs?.status, 350),
    workerRssFloodGrowthMb: atMost(
      `growth <= ${floodBoundMb} MB (bounded)`,
      json.workerRssMb?.floodGrowth,
      floodBoundMb,
    ),
  };
}
