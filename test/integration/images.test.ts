/**
 * OCI images as a step's root filesystem, against real parts: a local registry (Debian's
 * docker-registry on 127.0.0.1), images made with umoci from the busybox root filesystem and
 * pushed with skopeo, real runsc and (for the pipeline) a real dev server. Images are built and
 * pushed once for the file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type {
  HostCleanupReport,
  RunContainerInput,
  RunContainerResult,
  RunHeartbeat,
  SandboxActivities,
  SandboxActivityOptions,
} from '../../activities/index.js';
import type { ImagePullEvent } from '../../src/image/cache.js';
import type { SandboxPolicyInput } from '../../src/policy/schema.js';
import { makeContainerId } from '../../src/runtime/index.js';
import type { PipelineResult } from '../../workflows/types.js';
import { testActivities } from '../support/activities.js';
import {
  buildTestImages,
  dockerArchive,
  freePort,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from '../support/images.js';
import { runtimeUnderTestLabel } from '../support/runsc-builds.js';
import { testRuntime, uniqueId } from '../support/runtime.js';
import { startTestCluster } from '../support/worker.js';

const runtime = testRuntime();
const activitiesWorkDir = join(inject('workDir'), 'activities');
let registry: TestRegistry;
let imagesDir: string;
let layout: string;
let archive: string;
const digests: Record<string, string> = {};

beforeAll(async () => {
  imagesDir = await mkdtemp(join(tmpdir(), 'trs-images-'));
  layout = await buildTestImages(imagesDir, inject('rootfs'));
  archive = join(imagesDir, 'layers.tar');
  await dockerArchive(layout, 'layers', archive, 'team/layers:1');
  registry = await startTestRegistry();
  for (const tag of ['tool', 'layers', 'plain']) {
    digests[tag] = await pushImage(layout, tag, `${registry.address}/team/${tag}:1`);
  }
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (imagesDir) await rm(imagesDir, { recursive: true, force: true });
});

/** The images section of a test policy: the local registry (plain HTTP) and the layouts folder. */
function imagePolicy(cacheDir: string, extra: Partial<NonNullable<SandboxPolicyInput['images']>> = {}) {
  return {
    images: {
      registries: [`${registry.address}/team`],
      layouts: [imagesDir],
      plainHttp: [registry.address],
      cache: { dir: cacheDir },
      ...extra,
    },
  } satisfies SandboxPolicyInput;
}

async function imageActivities(
  options: { policy?: SandboxPolicyInput; onImagePull?: (e: ImagePullEvent) => void } = {},
): Promise<{ activities: SandboxActivities; cacheDir: string }> {
  const cacheDir = join(inject('workDir'), `images-${randomBytes(4).toString('hex')}`);
  const activities = await testActivities({
    runtime,
    policy: options.policy ?? imagePolicy(cacheDir),
    ...(options.onImagePull ? { onImagePull: options.onImagePull } : {}),
  } as Partial<SandboxActivityOptions>);
  return { activities, cacheDir };
}

function environment(extra: Record<string, unknown> = {}) {
  const workflowId = uniqueId('img');
  const attempt = (extra.attempt as number | undefined) ?? 1;
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId, runId: 'run-1' },
    activityId: '1',
    attempt,
    heartbeatTimeoutMs: 2000,
    ...extra,
  } as never);
  const heartbeats: RunHeartbeat[] = [];
  env.on('heartbeat', (d: RunHeartbeat) => heartbeats.push(d));
  return {
    heartbeats,
    run: (activities: SandboxActivities, input: RunContainerInput): Promise<RunContainerResult> =>
      env.run(activities.runContainer, input),
    containerId: makeContainerId({
      namespace: 'default',
      workflowId,
      runId: 'run-1',
      activityId: '1',
      attempt,
    }),
  };
}

async function failure(activities: SandboxActivities, input: RunContainerInput) {
  const { run, containerId } = environment();
  const error = (await run(activities, input).catch((e: unknown) => e)) as Error & {
    type?: string;
    nonRetryable?: boolean;
  };
  return { error, containerId };
}

/** Nothing of the attempt exists: no container, no run folder (bundle), no log. */
async function expectNothingStarted(containerId: string): Promise<void> {
  expect(await runtime.exists(containerId)).toBe(false);
  expect(existsSync(join(activitiesWorkDir, 'runs', containerId))).toBe(false);
  expect(existsSync(join(activitiesWorkDir, 'logs', `${containerId}.log`))).toBe(false);
}

describe(`images from a registry (${runtimeUnderTestLabel()})`, () => {
  it('runs a tag with the image’s Entrypoint, Cmd, WorkingDir, User and Env (the step’s env over it), and records the digest', async () => {
    const { activities } = await imageActivities();
    const result = await environment().run(activities, {
      step: 'tool',
      image: `${registry.address}/team/tool:1`,
      env: { STEPVAR: 'from-step' },
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdoutTail.trim()).toBe('from-image uid=1000 cwd=/work IMG=image STEP=from-step');
    expect(result.image).toEqual({ reference: `${registry.address}/team/tool:1`, digest: digests.tool });
  });

  it('runs a pinned digest, with the step’s args replacing Cmd (the Entrypoint stays)', async () => {
    const { activities } = await imageActivities();
    const reference = `${registry.address}/team/tool@${digests.tool}`;
    const result = await environment().run(activities, {
      step: 'pinned',
      image: reference,
      args: ['-c', 'echo args-replace-cmd as $(id -u)'],
    });
    expect(result.stdoutTail.trim()).toBe('args-replace-cmd as 1000');
    expect(result.image).toEqual({ reference, digest: digests.tool });
  });

  it('unpacks a multi-layer image with a whiteout: the later layer’s file is there, the whited-out one is gone', async () => {
    const { activities } = await imageActivities();
    const result = await environment().run(activities, {
      step: 'layers',
      image: `${registry.address}/team/layers:1`,
    });
    expect(result.stdoutTail.trim().split('\n')).toEqual(['from layer two', 'doomed-gone']);
  });

  it('gives the step a writable root: it writes anywhere, the cached image and the host stay as they were; an image annotation cannot turn the overlay off', async () => {
    const { activities, cacheDir } = await imageActivities();
    const first = await environment().run(activities, {
      step: 'writer',
      image: `${registry.address}/team/tool:1`,
      user: { uid: 0, gid: 0 },
      args: [
        '-c',
        'echo written > /etc/written && mkdir -p /usr/new && echo ok > /usr/new/file && cat /etc/written /usr/new/file',
      ],
    });
    expect(first.stdoutTail.trim().split('\n')).toEqual(['written', 'ok']);
    const rootfs = join(cacheDir, `sha256-${digests.tool?.slice(7)}`, 'rootfs');
    expect(existsSync(join(rootfs, 'etc', 'written'))).toBe(false);
    expect(existsSync(join(rootfs, 'usr', 'new'))).toBe(false);
    expect((await readdir(rootfs)).filter((name) => name.startsWith('.gvisor'))).toEqual([]);
    // The next step from the same image starts from the image, not from what the last one wrote.
    const second = await environment().run(activities, {
      step: 'reader',
      image: `${registry.address}/team/tool:1`,
      args: ['-c', 'test -e /etc/written && echo leaked || echo clean'],
    });
    expect(second.stdoutTail.trim()).toBe('clean');
  });

  it('uses the first attempt’s digest on a retry, though the tag has moved since', async () => {
    const { activities } = await imageActivities();
    const reference = `${registry.address}/team/moving:1`;
    const first = await pushImage(layout, 'tool', reference);
    const attempt1 = environment();
    const one = await attempt1.run(activities, {
      step: 'moving',
      image: reference,
      args: ['-c', 'echo one'],
    });
    expect(one.image?.digest).toBe(first);
    const moved = await pushImage(layout, 'plain', reference);
    expect(moved).not.toBe(first);
    const last = attempt1.heartbeats.at(-1);
    expect(last?.image).toEqual({ reference, digest: first });
    const retry = environment({ attempt: 2, heartbeatDetails: last });
    const two = await retry.run(activities, {
      step: 'moving',
      image: reference,
      args: ['-c', 'echo two $(id -u)'],
    });
    expect(two.image?.digest).toBe(first);
    // The tool image's user (1000), not the plain one's (root).
    expect(two.stdoutTail.trim()).toBe('two 1000');
    // A new step (a first attempt) takes the tag as it is now.
    const fresh = await environment().run(activities, {
      step: 'fresh',
      image: reference,
      args: ['/bin/true'],
    });
    expect(fresh.image?.digest).toBe(moved);
  });

  it('fails a step whose registry is down with a retryable ImageUnavailable that says so, and starts nothing', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const cacheDir = join(inject('workDir'), `images-${randomBytes(4).toString('hex')}`);
    const { activities } = await imageActivities({
      policy: { images: { registries: [dead], plainHttp: [dead], cache: { dir: cacheDir } } },
    });
    const { error, containerId } = await failure(activities, { step: 'down', image: `${dead}/team/tool:1` });
    expect(error).toMatchObject({ type: 'ImageUnavailable', nonRetryable: false });
    expect(error.message).toContain(
      `down: image: cannot reach registry ${dead} for ${dead}/team/tool:1 (the registry is down or unreachable; the step is retried)`,
    );
    await expectNothingStarted(containerId);
  });

  it('fails a tag the registry does not have with a non-retryable InvalidImage naming it', async () => {
    const { activities } = await imageActivities();
    const { error, containerId } = await failure(activities, {
      step: 'missing',
      image: `${registry.address}/team/tool:no-such-tag`,
    });
    expect(error).toMatchObject({ type: 'InvalidImage', nonRetryable: true });
    expect(error.message).toContain(`image: ${registry.address}/team/tool:no-such-tag was not found`);
    await expectNothingStarted(containerId);
  });
});

describe('image references the worker refuses', () => {
  it.each([
    ['busybox:1.36', 'does not name its registry'],
    ['docker://registry.example/x:1', 'without a transport'],
    ['registry.example/Team/tool:1', 'is not an image reference'],
    ['registry.example/team/tool', 'names no tag or digest'],
  ])('refuses image %s with InvalidStep naming the field, and starts nothing', async (image, why) => {
    const { activities } = await imageActivities();
    const { error, containerId } = await failure(activities, { step: 'bad', image });
    expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
    expect(error.message).toMatch(/- image: /);
    expect(error.message).toContain(why);
    await expectNothingStarted(containerId);
  });

  it('refuses a registry the policy does not list, and a layout outside its folders', async () => {
    const { activities } = await imageActivities();
    const other = await failure(activities, { step: 'other', image: `${registry.address}/elsewhere/tool:1` });
    expect(other.error.message).toContain(
      `image: ${registry.address}/elsewhere/tool is not in an allowed registry (policy.images.registries: ${registry.address}/team); ask the operator to allow it`,
    );
    const outside = await failure(activities, { step: 'outside', image: 'oci:/etc:tool' });
    expect(outside.error.message).toContain(
      'image: /etc is not under an allowed image folder (policy.images.layouts:',
    );
    await expectNothingStarted(other.containerId);
    await expectNothingStarted(outside.containerId);
  });

  it('refuses every image on a worker whose policy allows none', async () => {
    const { error, containerId } = await failure(await testActivities({ runtime }), {
      step: 'none',
      image: `${registry.address}/team/tool:1`,
    });
    expect(error.message).toContain('(policy.images.registries: none)');
    await expectNothingStarted(containerId);
  });

  it('refuses an image whose User the policy does not allow, naming image.config.User', async () => {
    const cacheDir = join(inject('workDir'), `images-${randomBytes(4).toString('hex')}`);
    const { activities } = await imageActivities({
      policy: { ...imagePolicy(cacheDir), user: { uids: [0, 999], gids: [0, 999] } },
    });
    const { error, containerId } = await failure(activities, {
      step: 'user',
      image: `${registry.address}/team/tool:1`,
    });
    expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
    expect(error.message).toContain(
      'image.config.User: 1000 is outside the allowed uids (policy.user.uids: 0-999)',
    );
    await expectNothingStarted(containerId);
  });
});

describe(`local images and the cache (${runtimeUnderTestLabel()})`, () => {
  it('runs an oci: layout and a docker-archive:', async () => {
    const { activities } = await imageActivities();
    const fromLayout = await environment().run(activities, { step: 'layout', image: `oci:${layout}:layers` });
    const fromArchive = await environment().run(activities, {
      step: 'archive',
      image: `docker-archive:${archive}`,
    });
    expect(fromLayout.stdoutTail.trim().split('\n')).toEqual(['from layer two', 'doomed-gone']);
    expect(fromArchive.stdoutTail).toBe(fromLayout.stdoutTail);
    expect(fromLayout.image?.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it('unpacks an image once for concurrent first uses, and each step runs from it', async () => {
    const pulls: ImagePullEvent[] = [];
    const { activities, cacheDir } = await imageActivities({ onImagePull: (event) => pulls.push(event) });
    const results = await Promise.all(
      [1, 2, 3].map((n) =>
        environment().run(activities, {
          step: `c${n}`,
          image: `${registry.address}/team/plain:1`,
          args: ['/bin/echo', `n${n}`],
        }),
      ),
    );
    expect(results.map((r) => r.stdoutTail.trim())).toEqual(['n1', 'n2', 'n3']);
    expect(pulls.map((p) => p.outcome)).toEqual(['unpacked']);
    const entries = (await readdir(cacheDir)).filter((name) => name.startsWith('sha256-'));
    expect(entries).toEqual([`sha256-${digests.plain?.slice(7)}`]);
    // Nothing half done is left beside it.
    expect((await readdir(cacheDir)).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('the budget removes images no step uses, and keeps none half removed', async () => {
    const cacheDir = join(inject('workDir'), `images-${randomBytes(4).toString('hex')}`);
    const { activities } = await imageActivities({
      policy: imagePolicy(cacheDir, { cache: { dir: cacheDir, maxBytes: 1 } }),
    });
    await environment().run(activities, {
      step: 'once',
      image: `${registry.address}/team/plain:1`,
      args: ['/bin/true'],
    });
    const report = (await new MockActivityEnvironment().run(activities.cleanupHost, {})) as HostCleanupReport;
    expect(report.images?.removed.map((r) => r.digest)).toEqual([digests.plain]);
    expect((await readdir(cacheDir)).filter((name) => name !== 'users')).toEqual([]);
  });
});

describe(`a writable root for rootfs folders too (${runtimeUnderTestLabel()})`, () => {
  it('lets a rootfs step write into its root, leaves the folder as it was, and counts the writes against its memory limit', async () => {
    const activities = await testActivities({ runtime });
    const rootfs = inject('rootfs');
    const small = await environment().run(activities, {
      step: 'small',
      args: ['/bin/sh', '-c', 'echo hi > /etc/from-step && cat /etc/from-step'],
    });
    expect(small.stdoutTail.trim()).toBe('hi');
    expect(existsSync(join(rootfs, 'etc', 'from-step'))).toBe(false);
    const { error } = await failure(activities, {
      step: 'big',
      args: ['/bin/sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=400'],
      limits: { memoryBytes: 128 * 1024 * 1024 },
    });
    expect(error).toMatchObject({ type: 'ContainerExit' });
    expect(existsSync(join(rootfs, 'big'))).toBe(false);
  });
});

describe(`a pipeline whose steps name images (${runtimeUnderTestLabel()})`, () => {
  it('runs defaults.image for steps without args, a step’s own image, and reports each digest', async () => {
    const cacheDir = join(inject('workDir'), `images-${randomBytes(4).toString('hex')}`);
    const cluster = await startTestCluster({ policy: imagePolicy(cacheDir) });
    try {
      const handle = await cluster.client.workflow.start('sandboxPipeline', {
        taskQueue: cluster.taskQueue,
        workflowId: uniqueId('img-pipeline'),
        args: [
          {
            name: 'images',
            defaults: { image: `${registry.address}/team/tool:1`, retry: { maximumAttempts: 1 } },
            steps: [
              { name: 'default-cmd' },
              { name: 'layers', image: `oci:${layout}:layers` },
              {
                name: 'own-rootfs',
                rootfs: inject('rootfs'),
                args: ['/bin/sh', '-c', 'echo rootfs > /etc/w && cat /etc/w'],
              },
            ],
          },
        ],
      });
      const result = (await handle.result()) as PipelineResult;
      expect(result.status).toBe('completed');
      const [first, second, third] = result.steps;
      expect(first?.stdoutTail.trim()).toBe('from-image uid=1000 cwd=/work IMG=image STEP=image-default');
      expect(first?.image).toEqual({ reference: `${registry.address}/team/tool:1`, digest: digests.tool });
      expect(second?.stdoutTail.trim().split('\n')).toEqual(['from layer two', 'doomed-gone']);
      expect(third?.stdoutTail.trim()).toBe('rootfs');
      expect(third?.image).toBeUndefined();
      expect(existsSync(join(inject('rootfs'), 'etc', 'w'))).toBe(false);
    } finally {
      await cluster.stop();
    }
  });
});
