// Measures the smallest `limits.pids` with which a busybox step still runs under runsc here:
// the limit counts the sandbox's own host threads, so the answer depends on the runsc build,
// the platform and the number of CPUs. Run as root: `npm run measure:pids [-- --runs 5]`.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBundleSpec, toOciConfig } from '../src/bundle/index.js';
import { ensureBusyboxRootfs } from '../src/rootfs.js';
import { Runsc } from '../src/runtime/index.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 5);
const root = `/run/temporal-runsc-measure/${process.pid}`;
const work = `/tmp/temporal-runsc-measure-${process.pid}`;
const runtime = new Runsc({ root, platform: 'ptrace', network: 'none' });
const rootfs = await ensureBusyboxRootfs();
// A step that forks (a background sleep) and waits: the smallest thing a real step does.
const args = ['/bin/sh', '-c', 'echo ok; sleep 0.1 & wait'];

await mkdir(root, { recursive: true });
try {
  let smallest: number | undefined;
  for (const limit of [16, 24, 32, 40, 48, 56, 64, 80, 96, 128]) {
    let ok = 0;
    const outcomes: string[] = [];
    for (let i = 0; i < runs; i++) {
      const id = `trs-measure-${limit}-${i}`;
      const bundle = join(work, id);
      await mkdir(bundle, { recursive: true });
      // Written directly: the bundle validator refuses limits this low, which is the point.
      const spec = { ...parseBundleSpec({ rootfs, args }), limits: { pids: limit } };
      await writeFile(join(bundle, 'config.json'), JSON.stringify(toOciConfig(spec)));
      const result = await runtime.run(id, bundle);
      if (result.exitCode === 0) ok++;
      outcomes.push(result.runtimeError ? 'runsc-failed' : `exit ${result.exitCode}`);
    }
    console.log(
      `pids ${String(limit).padStart(3)}: ${ok}/${runs} ran  (${[...new Set(outcomes)].join(', ')})`,
    );
    if (ok === runs && smallest === undefined) smallest = limit;
  }
  console.log(`smallest pids limit that ran every time: ${smallest ?? 'none up to 128'}`);
} finally {
  await rm(work, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
}
