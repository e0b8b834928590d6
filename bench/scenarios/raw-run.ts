/**
 * The floor: `runsc run` of a busybox /bin/true bundle, spawned directly. Side by side, in
 * rotating order so drift hits each equally: the same container through the library's `Runsc`
 * client (what the activity calls), and `runc run` when runc is installed.
 */
import { join } from 'node:path';
import type { BenchHarness } from '../harness.js';
import type { BenchPlan } from '../options.js';
import { say } from '../progress.js';
import { rotated, type Summary, summarize } from '../stats.js';

export interface RawRunResult {
  rawRunMs: Summary & { samples: number[] };
  runscClientRunMs: Summary & { samples: number[] };
  runcRunMs: (Summary & { samples: number[] }) | null;
}

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
  const kinds: { name: keyof RawRunResult; run: () => Promise<number> }[] = [
    { name: 'rawRunMs', run: () => runsc.timedRun() },
    { name: 'runscClientRunMs', run: viaClient },
  ];
  if (runc) kinds.push({ name: 'runcRunMs', run: () => runc.timedRun() });

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
  const result = {
    rawRunMs: withSamples('rawRunMs') as RawRunResult['rawRunMs'],
    runscClientRunMs: withSamples('runscClientRunMs') as RawRunResult['runscClientRunMs'],
    runcRunMs: withSamples('runcRunMs'),
  };
  say(
    `raw runsc ${result.rawRunMs.p50} ms, via Runsc client ${result.runscClientRunMs.p50} ms, runc ${result.runcRunMs?.p50 ?? 'n/a'} ms (medians)`,
  );
  return result;
}
