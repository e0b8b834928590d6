/**
 * Image bench (`npx tsx bench/images.ts [--rounds N]`), as root, one run, both runsc builds:
 * - cold: a first use of an image through the cache (inspect, skopeo copy, umoci unpack, config,
 *   size check, rename) against `skopeo copy` + `umoci unpack` alone, paired per round;
 * - warm: a step (runContainer, real runsc) from a cached image, by digest and by tag, against
 *   a step from a rootfs folder, interleaved per round.
 * Images come from a local docker-registry on 127.0.0.1 (started and stopped here).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type SandboxActivities } from '../activities/index.js';
import { cleanupHost } from '../src/host/cleanup.js';
import { removeNullNetns } from '../src/host/state-root.js';
import { ImageCache } from '../src/image/cache.js';
import { imageReference } from '../src/image/reference.js';
import { Skopeo } from '../src/image/skopeo.js';
import { Umoci } from '../src/image/umoci.js';
import { ensureBusyboxRootfs } from '../src/rootfs.js';
import { Runsc } from '../src/runtime/index.js';
import { buildTestImages, pushImage, startTestRegistry } from '../test/support/images.js';
import { runscBuilds } from '../test/support/runsc-builds.js';
import { summarize } from './stats.js';

const roundsFlag = process.argv.indexOf('--rounds');
const rounds = roundsFlag === -1 ? 10 : Number(process.argv[roundsFlag + 1]);

const rootfs = await ensureBusyboxRootfs();
const scratch = await mkdtemp(join(tmpdir(), 'trs-bench-images-'));
const layout = await buildTestImages(scratch, rootfs);
const registry = await startTestRegistry();
const repository = `${registry.address}/team/plain`;
const digest = await pushImage(layout, 'plain', `${repository}:1`);
const skopeo = new Skopeo();
const umoci = new Umoci();
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

try {
  // Cold first use, paired: the tools alone, then the cache (a fresh folder each round).
  const raw: number[] = [];
  const cold: number[] = [];
  const warmUse: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const dir = join(scratch, `cold-${round}`);
    await mkdir(dir);
    let start = process.hrtime.bigint();
    await skopeo.copy(`docker://${repository}@${digest}`, join(dir, 'layout'), 'image', {
      insecure: true,
      timeoutMs: 60_000,
    });
    await umoci.unpack(join(dir, 'layout'), 'image', join(dir, 'bundle'), { timeoutMs: 60_000 });
    raw.push(ms(start));
    const cache = await ImageCache.open({
      dir: join(dir, 'cache'),
      maxBytes: 1024 ** 3,
      maxAgeMs: 3_600_000,
      maxImageBytes: 1024 ** 3,
      pullTimeoutMs: 60_000,
      tagTtlMs: 0,
      insecureRegistries: [registry.address],
    });
    start = process.hrtime.bigint();
    const ref = imageReference(`${repository}:1`);
    const use = await cache.use(ref, await cache.resolve(ref));
    cold.push(ms(start));
    await use.release();
    // The cache's own part of a warm step: the lookup and the hold, by digest.
    start = process.hrtime.bigint();
    const again = await cache.use(ref, digest);
    await again.release();
    warmUse.push(ms(start));
  }
  console.log(
    JSON.stringify({
      cold: {
        'skopeo copy + umoci unpack': summarize(raw),
        'cache first use (tag)': summarize(cold),
        'cache warm use + release (digest)': summarize(warmUse),
      },
    }),
  );

  for (const [label, command] of Object.entries(runscBuilds())) {
    const root = `/run/trs-bench-images-${process.pid}-${label}`;
    const runtime = new Runsc({ command, root });
    const workDir = join(scratch, `work-${label}`);
    const activities: SandboxActivities = await createActivities({
      runtime,
      host: 'bench',
      hostQueue: 'bench',
      workDir,
      rootfs,
      policy: { images: { registries: [registry.address], plainHttp: [registry.address] } },
    });
    const variants: Record<string, Record<string, unknown>> = {
      'rootfs folder': { args: ['/bin/true'] },
      'image by digest (warm)': { image: `${repository}@${digest}`, args: ['/bin/true'] },
      'image by tag (warm; tag resolved per step)': { image: `${repository}:1`, args: ['/bin/true'] },
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    // One warm-up of each (the first image use unpacks it; not counted).
    for (let round = -1; round < rounds; round++) {
      for (const [name, input] of Object.entries(variants)) {
        const env = new MockActivityEnvironment({
          workflowExecution: { workflowId: `bench-${label}-${name.length}-${round}`, runId: 'r' },
          activityId: '1',
          attempt: 1,
        } as never);
        const start = process.hrtime.bigint();
        await env.run(activities.runContainer, { step: 'bench', ...input });
        if (round >= 0) samples[name]?.push(ms(start));
      }
    }
    console.log(
      JSON.stringify({
        warm: label,
        version: (await runtime.version()).version,
        ...Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)])),
      }),
    );
    await cleanupHost(runtime, { wipe: true }).catch(() => undefined);
    await removeNullNetns(root).catch(() => undefined);
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
} finally {
  await registry.stop();
  await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
}
