/**
 * The worker's own memory (VmRSS of the node process; runsc's processes are not counted) in a
 * process of its own: idle, while N `sleep` steps run at once (one pipeline, an N-member
 * parallel group, worker concurrency N), and while one step prints a flood to stdout (the
 * output goes through pipes into the 8 KiB tail buffers and the log file: memory must not grow
 * with it). Peaks come from VmHWM, reset before each phase, so no spike falls between samples.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipelineResult, startPipeline } from '../../src/client/index.js';
import { processesOfRoot } from '../../src/host/processes.js';
import type { PipelineInput } from '../../workflows/types.js';
import { ChildWorker } from '../child-worker.js';
import type { BenchHarness } from '../harness.js';
import type { BenchPlan } from '../options.js';
import { nowMs, parallelPipeline } from '../pipelines.js';
import { say } from '../progress.js';
import { median, round } from '../stats.js';
import { childWorkerSettings } from './crash-recovery.js';

export interface WorkerRssResult {
  idleMb: number;
  concurrent: {
    containers: number;
    /** Most containers seen running at once (state files in the root). */
    maxSeenRunning: number;
    /** Peak RSS (VmHWM) over the phase, median over rounds. */
    peakMb: number;
    /** Highest RSS sampled while all containers ran. */
    atFullConcurrencyMb: number;
    /** RSS of runsc's own processes (run, sandbox, gofer) at full concurrency: not the worker's. */
    runtimeProcessesMb: number;
    samples: { peakMb: number[]; atFullConcurrencyMb: number[] };
  };
  flood: {
    bytes: number;
    status: string;
    error?: string;
    baselineMb: number;
    peakMb: number;
    growthMb: number;
    durationMs: number;
    megabytesPerSecond: number;
    /** The same flood through a raw `runsc run` (stdout drained by node), just before. */
    rawDurationMs: number;
    rawMegabytesPerSecond: number;
    /** Size of the step's log file, to confirm the flood went through the worker. */
    loggedBytes: number | null;
  };
}

const sampleEveryMs = 100;

export async function measureWorkerRss(harness: BenchHarness, plan: BenchPlan): Promise<WorkerRssResult> {
  const containers = plan.rssConcurrentContainers;
  const settings = childWorkerSettings(harness, 'rss', containers);
  const worker = await ChildWorker.start(settings);
  harness.defer('stop the RSS scenario worker', () => worker.stop());
  try {
    await sleep(2000); // let start-up garbage be collected before calling it idle
    const idleMb = await worker.rssMb();

    const peaks: number[] = [];
    const atFull: number[] = [];
    let maxSeenRunning = 0;
    let runtimeProcessesMb = 0;
    for (let round = 0; round < plan.rssConcurrentRounds; round++) {
      await worker.resetPeak();
      // Long enough that all of them overlap even when 16 sandboxes start slowly on 2 cores.
      const input = parallelPipeline('bench-rss', containers, ['/bin/sleep', '12']);
      const handle = await startPipeline(harness.client, input, { taskQueue: settings.taskQueue });
      let roundFull = 0;
      const sampler = every(sampleEveryMs, async () => {
        const running = await countContainers(settings.root);
        maxSeenRunning = Math.max(maxSeenRunning, running);
        if (running >= containers) {
          roundFull = Math.max(roundFull, await worker.rssMb());
          if (runtimeProcessesMb === 0)
            runtimeProcessesMb = await rssOfProcessesMb(settings.root, worker.pid);
        }
      });
      const result = await pipelineResult(handle).finally(() => sampler.stop());
      if (result.status !== 'completed') throw new Error(`RSS pipeline ended ${result.status}`);
      peaks.push(await worker.peakRssMb());
      atFull.push(roundFull);
      say(
        `RSS round ${round + 1}: ${containers} sleeping steps, worker peak ${round2(peaks.at(-1))} MiB (idle ${round2(idleMb)} MiB), at full concurrency ${round2(roundFull)} MiB`,
      );
    }

    const flood = await measureFlood(harness, worker, settings, plan.floodBytes);
    return {
      idleMb: round(idleMb),
      concurrent: {
        containers,
        maxSeenRunning,
        peakMb: round(median(peaks)),
        atFullConcurrencyMb: round(median(atFull)),
        runtimeProcessesMb: round(runtimeProcessesMb),
        samples: { peakMb: peaks.map((mb) => round(mb)), atFullConcurrencyMb: atFull.map((mb) => round(mb)) },
      },
      flood,
    };
  } finally {
    await worker.stop();
  }
}

async function measureFlood(
  harness: BenchHarness,
  worker: ChildWorker,
  settings: ReturnType<typeof childWorkerSettings>,
  bytes: number,
): Promise<WorkerRssResult['flood']> {
  const floodArgs = ['/bin/head', '-c', String(bytes), '/dev/zero'];
  const rawDurationMs = await harness.raw.runsc.timedRun(floodArgs);
  await worker.resetPeak();
  const baselineMb = await worker.rssMb();
  const input: PipelineInput = {
    name: 'bench-flood',
    steps: [
      { name: 'flood', args: ['/bin/head', '-c', String(bytes), '/dev/zero'], retry: { maximumAttempts: 1 } },
    ],
  };
  const startedAt = nowMs();
  const handle = await startPipeline(harness.client, input, { taskQueue: settings.taskQueue });
  const result = await pipelineResult(handle);
  const durationMs = nowMs() - startedAt;
  const peakMb = await worker.peakRssMb();
  const step = result.steps[0];
  // The whole output stays in the worker's log file (README): check its size, then free the disk.
  const logPath = step?.containerId ? join(settings.workDir, 'logs', `${step.containerId}.log`) : undefined;
  const loggedBytes = logPath
    ? await stat(logPath).then(
        (s) => s.size,
        () => null,
      )
    : null;
  if (logPath) await rm(logPath, { force: true });
  const flood = {
    bytes,
    status: step?.status ?? result.status,
    ...(step?.error ? { error: step.error } : {}),
    baselineMb: round(baselineMb),
    peakMb: round(peakMb),
    growthMb: round(peakMb - baselineMb),
    durationMs: Math.round(durationMs),
    megabytesPerSecond: round(bytes / 1024 / 1024 / (durationMs / 1000)),
    rawDurationMs: Math.round(rawDurationMs),
    rawMegabytesPerSecond: round(bytes / 1024 / 1024 / (rawDurationMs / 1000)),
    loggedBytes,
  };
  say(
    `flood of ${bytes} bytes: ${flood.status} in ${flood.durationMs} ms (raw ${flood.rawDurationMs} ms), worker RSS ${flood.baselineMb} -> peak ${flood.peakMb} MiB (+${flood.growthMb})`,
  );
  return flood;
}

/** Containers in a runsc root: one `<id>_sandbox:<id>.state` file each. */
async function countContainers(root: string): Promise<number> {
  const names = await readdir(root).catch(() => [] as string[]);
  return names.filter((name) => name.endsWith('.state')).length;
}

async function rssOfProcessesMb(root: string, workerPid: number): Promise<number> {
  let kb = 0;
  // The worker names the root on its command line too: it is measured on its own.
  for (const proc of (await processesOfRoot(root)).filter((p) => p.pid !== workerPid)) {
    const status = await readFile(`/proc/${proc.pid}/status`, 'utf8').catch(() => '');
    kb += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  }
  return kb / 1024;
}

/** Calls `tick` every `ms` (never two at once) until stopped. */
function every(ms: number, tick: () => Promise<void>): { stop: () => Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await sleep(ms);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round2(value: number | undefined): number {
  return round(value ?? Number.NaN);
}
