/**
 * The floor: `runsc run` of a busybox /bin/true bundle, spawned directly. Side by side, in
 * rotating order so drift hits each equally: the same container through the library's `Runsc`
 * client (what the activity calls), `runc run` when runc is installed, and each supported runsc
 * build by path (the current gVisor build and Debian's 2022 one, each on its default platform).
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchHarness } from '../harness.js';
import type { BenchPlan } from '../options.js';
import { say } from '../progress.js';
import { rotated, type Summary, summarize } from '../stats.js';

export interface RawRunResult {
  rawRunMs: Summary & { samples: number[] };
  runscClientRunMs: Summary & { samples: number[] };
  runcRunMs: (Summary & { samples: number[] }) | null;
  /** `run` of each supported runsc build, paired in the same rounds; null when not installed. */
  rawRunMsByBuild: Record<'current' | 'debian2022', (Summary & { samples: number[] }) | null>;
}

type Sampled = Summary & { samples: number[] };

export async function measureRawRuns(harness: BenchHarness, plan: BenchPlan): Promise<RawRunResult> {
  const { runsc, runc } = harness.raw;
  const viaClient = async (): Promise<number> => {
    const prepared = await runsc.prepare();
    try {
      const startedAt = performance.now();
      const result = await harness.runtime.run(prepared.id, prepared.bundle, {
        runtimeLog: join(prepared.runDir, 'runtime.json'),
      });
      const elapsed = performance.now() - startedAt;
      if (result.exitCode !== 0) throw new Error(`Runsc.run of /bin/true exited ${result.exitCode}`);
      return elapsed;
    } finally {
      await runsc.discard(prepared);
    }
  };
  const kinds: { name: string; run: () => Promise<number> }[] = [
    { name: 'rawRunMs', run: () => runsc.timedRun() },
    { name: 'runscClientRunMs', run: viaClient },
  ];
  if (runc) kinds.push({ name: 'runcRunMs', run: () => runc.timedRun() });
  for (const [build, raw] of Object.entries(harness.raw.builds)) {
    const installed = await access(raw.command, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (installed) kinds.push({ name: `build:${build}`, run: () => raw.timedRun() });
    else
      say(`raw run of the ${build} runsc build skipped: ${raw.command} is not installed (scripts/setup.sh)`);
  }

  // One unrecorded run each: the first run of a binary pays for page cache and cgroup setup.
  for (const kind of kinds) await kind.run();
  const samples = new Map<string, number[]>(kinds.map((k) => [k.name, []]));
  for (let round = 0; round < plan.rawRounds; round++) {
    for (const kind of rotated(kinds, round)) samples.get(kind.name)?.push(await kind.run());
  }
  const withSamples = (name: string) => {
    const values = samples.get(name);
    return values ? { ...summarize(values), samples: values.map(Math.round) } : null;
  };
  const result: RawRunResult = {
    rawRunMs: withSamples('rawRunMs') as Sampled,
    runscClientRunMs: withSamples('runscClientRunMs') as Sampled,
    runcRunMs: withSamples('runcRunMs'),
    rawRunMsByBuild: { current: withSamples('build:current'), debian2022: withSamples('build:debian2022') },
  };
  say(
    `raw runsc ${result.rawRunMs.p50} ms, via Runsc client ${result.runscClientRunMs.p50} ms, runc ${result.runcRunMs?.p50 ?? 'n/a'} ms; by build: current ${result.rawRunMsByBuild.current?.p50 ?? 'n/a'} ms, debian2022 ${result.rawRunMsByBuild.debian2022?.p50 ?? 'n/a'} ms (medians)`,
  );
  return result;
}
