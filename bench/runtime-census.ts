/**
 * Counts the runtime commands the library issues per step. A worker in a process of its own
 * calls runsc through a wrapper script that appends its arguments to a file, then execs runsc,
 * so every call is counted exactly. A diagnostic pass, never timed (the wrapper adds a shell).
 *
 * Scanning /proc from the bench process was tried first: at concurrency 8 one scan took up to
 * a second (the in-process worker shares the event loop, and reading the command line of
 * runsc's ptrace stubs can block), so most short commands were missed.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runtimeUnderTest } from '../test/support/runsc-builds.js';
import { ChildWorker } from './child-worker.js';
import type { BenchHarness } from './harness.js';
import { parallelPipeline, runPipeline, sequentialPipeline } from './pipelines.js';
import { round } from './stats.js';

const subcommands = [
  'run',
  'state',
  'kill',
  'delete',
  'list',
  'ps',
  'wait',
  'exec',
  'events',
  'create',
  'start',
];

export interface RuntimeCallsPerStep {
  /** One-step pipelines, one after another. */
  alone: Record<string, number>;
  /** A parallel group at the worker's full concurrency (containers start slower, heartbeats tick more). */
  concurrent: Record<string, number>;
  concurrency: number;
}

export async function countRuntimeCallsPerStep(
  harness: BenchHarness,
  settings: { host: string; concurrency: number },
): Promise<RuntimeCallsPerStep> {
  const dir = join(harness.workDir, 'census');
  await mkdir(dir, { recursive: true });
  const log = join(dir, 'calls.log');
  const wrapper = join(dir, 'runsc-counted');
  await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${runtimeUnderTest()}' "$@"\n`);
  await chmod(wrapper, 0o755);

  const taskQueue = `${harness.taskQueue}-census`;
  const worker = await ChildWorker.start({
    address: harness.address,
    taskQueue,
    hostQueue: `${taskQueue}@${settings.host}`,
    host: settings.host,
    root: harness.roots.workerProcess,
    workDir: join(dir, 'worker'),
    rootfs: harness.rootfs,
    graceMs: 1000,
    maxContainers: settings.concurrency,
    workflowBundlePath: harness.workflowBundlePath,
    runtimeCommand: wrapper,
  });
  harness.defer('stop the census worker', () => worker.stop());
  try {
    const countWhile = async (steps: number, work: () => Promise<unknown>) => {
      await writeFile(log, ''); // drops the start-up sweep's calls and the previous phase's
      await work();
      const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
      const counts: Record<string, number> = {};
      for (const line of lines) {
        const subcommand = line.split(' ').find((arg) => subcommands.includes(arg)) ?? '?';
        counts[subcommand] = (counts[subcommand] ?? 0) + 1;
      }
      return Object.fromEntries(
        Object.entries(counts).map(([name, count]) => [name, round(count / steps, 2)]),
      );
    };
    const aloneRuns = 4;
    const alone = await countWhile(aloneRuns, async () => {
      for (let i = 0; i < aloneRuns; i++) {
        await runPipeline(harness.client, sequentialPipeline('bench-census', 1), taskQueue);
      }
    });
    const members = 2 * settings.concurrency;
    const concurrent = await countWhile(members, () =>
      runPipeline(harness.client, parallelPipeline('bench-census-parallel', members), taskQueue),
    );
    return { alone, concurrent, concurrency: settings.concurrency };
  } finally {
    await worker.stop();
  }
}
