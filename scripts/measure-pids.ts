// Measures the smallest `limits.pids` with which a busybox step still runs under runsc here:
// the limit counts the sandbox's own host threads, so the answer depends on the runsc build,
// the platform and the number of CPUs. Run as root:
//   npm run measure:pids [-- --runs 5] [--runtime /path/to/runsc] [--platform systrap]
// Without --platform each build runs on its own default (ptrace for 2022, systrap since 2023).
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBundleSpec, toOciConfig } from '../src/bundle/index.js';
import { cleanupHost } from '../src/host/cleanup.js';
import { ensureBusyboxRootfs } from '../src/rootfs.js';
import { Runsc } from '../src/runtime/index.js';
import { runtimePlatform } from '../src/runtime/version.js';

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

const runs = Number(flag('runs') ?? 5);
const root = `/run/temporal-runsc-measure/${process.pid}`;
const work = `/tmp/temporal-runsc-measure-${process.pid}`;
const platform = flag('platform');
const runtime = new Runsc({
  command: flag('runtime') ?? 'runsc',
  root,
  network: 'none',
  ...(platform ? { platform } : {}),
});
const { version } = await runtime.version();
console.log(
  `${runtime.command}: ${version}, platform ${await runtimePlatform(runtime)}, ${runs} runs per limit`,
);
const rootfs = await ensureBusyboxRootfs();
// A step that forks (a background sleep) and waits: the smallest thing a real step does.
const args = ['/bin/sh', '-c', 'echo ok; sleep 0.1 & wait'];

await mkdir(root, { recursive: true });
try {
  let smallest: number | undefined;
  for (const limit of [8, 12, 16, 20, 24, 32, 40, 48, 56, 64, 80, 96, 128]) {
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
  // Never `rm -rf` a root: current runsc leaves a mounted `null-netns` in it.
  const report = await cleanupHost(runtime, { wipe: true });
  if (report.problems.length > 0) console.error(`cleanup of ${root}: ${report.problems.join('; ')}`);
  await rmdir(root);
}
