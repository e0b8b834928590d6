/**
 * The operator's sandbox policy against hostile input, through runContainer and pipelines on
 * real runsc and a real dev server: what a pipeline asks for beyond the policy is refused before
 * anything starts, a step with no limits still has them, and nothing reached the host.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import type {
  RunContainerInput,
  RunContainerResult,
  RunHeartbeat,
  SandboxActivities,
} from '../../activities/index.js';
import type { SandboxPolicyInput } from '../../src/policy/schema.js';
import { type ContainerState, makeContainerId, Runsc } from '../../src/runtime/index.js';
import { testActivities } from '../support/activities.js';
import { runscBuilds, runtimeUnderTestLabel } from '../support/runsc-builds.js';
import { testBundle, testRuntime, uniqueId, waitForStatus } from '../support/runtime.js';
import { repoRoot } from '../support/worker-cli.js';

const runtime = testRuntime();
/** The current gVisor build by path: the one that can give a step a network of its own. */
const currentRunsc = new Runsc({
  command: runscBuilds().current,
  root: inject('runscRoot'),
  network: 'none',
});

const activitiesWorkDir = join(inject('workDir'), 'activities');

function environment(extra: Record<string, unknown> = {}) {
  const workflowId = uniqueId('sec');
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId, runId: 'run-1' },
    activityId: '1',
    attempt: 1,
    heartbeatTimeoutMs: 2000,
    ...extra,
  } as never);
  const heartbeats: RunHeartbeat[] = [];
  env.on('heartbeat', (d: RunHeartbeat) => heartbeats.push(d));
  const run = (activities: SandboxActivities, input: RunContainerInput): Promise<RunContainerResult> =>
    env.run(activities.runContainer, input);
  return {
    env,
    run,
    heartbeats,
    workflowId,
    containerId: makeContainerId({
      namespace: 'default',
      workflowId,
      runId: 'run-1',
      activityId: '1',
      attempt: 1,
    }),
  };
}

async function refused(activities: SandboxActivities, input: RunContainerInput) {
  const { run, containerId } = environment();
  const error = await run(activities, input).catch((e: unknown) => e);
  return { error: error as Error & { type?: string; nonRetryable?: boolean }, containerId };
}

/** Nothing of the attempt exists: no container, no run folder (bundle), no log. */
async function expectNothingStarted(containerId: string): Promise<void> {
  expect(await runtime.exists(containerId)).toBe(false);
  expect(existsSync(join(activitiesWorkDir, 'runs', containerId))).toBe(false);
  expect(existsSync(join(activitiesWorkDir, 'logs', `${containerId}.log`))).toBe(false);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A cgroup file of the container, on cgroup v1 (one hierarchy per controller) or v2. */
async function cgroupValue(containerId: string, v1: [string, string], v2: string): Promise<string> {
  const candidates = [
    join('/sys/fs/cgroup', v1[0], 'temporal-runsc', containerId, v1[1]),
    join('/sys/fs/cgroup/temporal-runsc', containerId, v2),
  ];
  return waitFor(`the cgroup of ${containerId}`, async () => {
    for (const path of candidates) {
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text !== undefined) return text.trim();
    }
    return undefined;
  });
}

describe('a worker with no policy', () => {
  it('refuses a read-write mount of / with InvalidStep naming the field, and starts nothing', async () => {
    const canary = `/tmp/trs-canary-${randomBytes(4).toString('hex')}`;
    const { error, containerId } = await refused(await testActivities(), {
      step: 'escape',
      args: ['/bin/sh', '-c', `touch /host${canary}`],
      mounts: [{ source: '/', destination: '/host', readOnly: false }],
    });
    expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
    expect(error.message).toContain(
      'mounts[0].source: / is not under an allowed read-write path (policy.mounts.readWrite: none); ask the operator to allow it',
    );
    await expectNothingStarted(containerId);
    expect(existsSync(canary)).toBe(false);
  });

  it('refuses rootfs: / (the host’s own files) and starts nothing', async () => {
    const { error, containerId } = await refused(await testActivities(), {
      step: 'shadow',
      args: ['/bin/cat', '/etc/shadow'],
      rootfs: '/',
    });
    expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
    expect(error.message).toMatch(/rootfs: \/ is not an allowed root filesystem \(policy\.rootfs: none/);
    await expectNothingStarted(containerId);
  });
  it(`runs a step that gives no limits with pids.max 256 and a 512 MiB memory limit (${runtimeUnderTestLabel()})`, async () => {
    const activities = await testActivities({ runtime });
    const { run, heartbeats } = environment();
    const running = run(activities, { step: 'unlimited', args: ['/bin/sleep', '3'] });
    const beat = await waitFor('a heartbeat', async () => heartbeats.find((h) => h.pid !== undefined));
    const pids = await cgroupValue(beat.containerId, ['pids', 'pids.max'], 'pids.max');
    const memory = await cgroupValue(beat.containerId, ['memory', 'memory.limit_in_bytes'], 'memory.max');
    const result = await running;
    expect(result.exitCode).toBe(0);
    expect({ pids, memory }).toEqual({ pids: '256', memory: String(512 * 1024 * 1024) });
  });

  it('refuses network: sandbox, and runs it on a worker whose policy allows it', async () => {
    const { error, containerId } = await refused(await testActivities(), {
      step: 'net',
      args: ['/bin/true'],
      network: 'sandbox',
    });
    expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
    expect(error.message).toMatch(/network: sandbox is not allowed on this worker \(policy\.network: none\)/);
    await expectNothingStarted(containerId);

    // The 2022 build refuses `sandbox` in the host's network namespace (README, "What runsc really does here"); the
    // current one gives the step gVisor's netstack in a namespace of its own.
    const allowed = await testActivities({ runtime: currentRunsc, policy: { network: ['none', 'sandbox'] } });
    const { run, heartbeats } = environment();
    const running = run(allowed, {
      step: 'net',
      // Long enough to read its runsc process's arguments on a loaded machine.
      args: ['/bin/sleep', '3'],
      network: 'sandbox',
    });
    const beat = await waitFor('a heartbeat', async () => heartbeats.find((h) => h.pid !== undefined));
    const cmdline = (await readFile(`/proc/${beat.pid}/cmdline`, 'utf8')).split('\0');
    expect((await running).exitCode).toBe(0);
    expect(cmdline).toContain('--network=sandbox');
    expect(cmdline).not.toContain('--network=none');
  });

  it('a fork bomb under the default limits ends; the host still forks and the worker serves the next step', async () => {
    // The operator's maximum run time stops the bomb if the sandbox survives it.
    const policy: SandboxPolicyInput = { limits: { max: { timeout: '10s' } } };
    const activities = await testActivities({ policy });
    const { run, heartbeats } = environment({ startToCloseTimeoutMs: 10_000 });
    const bomb = run(activities, {
      step: 'bomb',
      args: ['/bin/sh', '-c', 'b() { b | b & }; b; sleep 30'],
    }).catch((e: unknown) => e as Error & { type?: string });
    const beat = await waitFor('a heartbeat', async () => heartbeats.find((h) => h.pid !== undefined));
    const pidsMax = await cgroupValue(beat.containerId, ['pids', 'pids.max'], 'pids.max');
    const outcome = await bomb;
    console.log(
      `fork bomb ended as ${'type' in Object(outcome) ? (outcome as { type?: string }).type : 'a result'}`,
    );
    expect(pidsMax).toBe('256');
    expect(await runtime.exists(beat.containerId)).toBe(false);
    // The host: it still starts processes; the worker: it runs the next step.
    expect((await execa('/bin/true')).exitCode).toBe(0);
    const next = environment();
    const after = await next.run(activities, { step: 'after', args: ['/bin/echo', 'ok'] });
    expect(after).toMatchObject({ exitCode: 0, stdoutTail: 'ok\n' });
  });
});

describe('the worker CLI', () => {
  /** The worker's refusal on stderr; it must exit 2 at once, having touched nothing. */
  async function refusalOf(args: string[]): Promise<string> {
    const result = await execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', ...args], {
      cwd: repoRoot,
      reject: false,
      timeout: 45_000,
    });
    expect(result.exitCode).toBe(2);
    return String(result.stderr);
  }

  it('refuses a bad policy file before connecting, naming the field', async () => {
    const file = join(inject('workDir'), `policy-${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(file, 'mounts:\n  readOnly: [relative/path]\nnetwork: [none, bridge]\n');
    const stderr = await refusalOf([`--policy=${file}`, '--address=127.0.0.1:1']);
    expect(stderr).toMatch(/policy\.mounts\.readOnly\[0\]: must be an absolute path/);
    expect(stderr).toMatch(/policy\.network\[1\]: must be none, sandbox or host/);
  });

  it('refuses to run steps under runc without --allow-weak-runtime, and sweeps nothing', async () => {
    const root = join(inject('workDir'), `runc-root-${randomBytes(4).toString('hex')}`);
    const stderr = await refusalOf([
      '--runtime=runc',
      `--root=${root}`,
      `--address=${inject('temporalAddress')}`,
      `--work-dir=${join(inject('workDir'), 'runc-work')}`,
      `--rootfs=${inject('rootfs')}`,
    ]);
    expect(stderr).toMatch(/policy\.allowWeakRuntime: runc runs steps on the host's kernel/);
    expect(existsSync(root)).toBe(false);
  });
});

describe('host-queue activities', () => {
  it('refuse a container this library did not make, and leave it running', async () => {
    const activities = await testActivities();
    const foreign = `foreign-${randomBytes(4).toString('hex')}`;
    const unowned = uniqueId('unowned'); // our prefix, but no owner annotation of this host
    // Both run (attached, in the background) until the end of the test.
    const stop = new AbortController();
    const runs = [foreign, unowned].map(async (id) =>
      runtime.run(id, await testBundle(id, ['/bin/sleep', '60']), { signal: stop.signal, graceMs: 100 }),
    );
    try {
      for (const id of [foreign, unowned]) await waitForStatus(runtime, id, 'running');
      const env = new MockActivityEnvironment();
      for (const call of [
        () => env.run(activities.killContainer, { containerId: foreign }),
        () => env.run(activities.deleteContainer, { containerId: foreign }),
        () => env.run(activities.containerState, { containerId: foreign }),
        () => env.run(activities.deleteContainer, { containerId: unowned }),
        () => env.run(activities.killContainer, { containerId: unowned }),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
      }
      const error = (await env
        .run(activities.deleteContainer, { containerId: foreign })
        .catch((e: unknown) => e)) as Error;
      expect(error.message).toMatch(/not made by temporal-runsc \(no trs- prefix\)/);
      expect((await runtime.state(foreign)).status).toBe('running');
      expect((await runtime.state(unowned)).status).toBe('running');
    } finally {
      stop.abort();
      await Promise.all(runs);
    }
    expect(await runtime.exists(foreign)).toBe(false);
  });

  it('still act on this host’s own containers', async () => {
    const activities = await testActivities();
    const { run, heartbeats, workflowId } = environment();
    const running = run(activities, { step: 'own', args: ['/bin/sleep', '30'] }).catch((e: unknown) => e);
    const beat = await waitFor('a heartbeat', async () => heartbeats.find((h) => h.pid !== undefined));
    await waitForStatus(runtime, beat.containerId, 'running');
    // The workflow that ran the step (another one is refused: security-ownership.test.ts).
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run-1' } } as never);
    const state: ContainerState | null = await env.run(activities.containerState, {
      containerId: beat.containerId,
    });
    expect(state?.status).toBe('running');
    const killed = await env.run(activities.killContainer, { containerId: beat.containerId, signal: 'KILL' });
    expect(killed).toEqual({ delivered: true });
    expect(await running).toMatchObject({ type: 'ContainerExit' });
    expect(await runtime.exists(beat.containerId)).toBe(false);
  });

  it('cleanupHost takes no wipe, root or prefix from a workflow', async () => {
    const activities = await testActivities();
    const env = new MockActivityEnvironment();
    for (const input of [{ wipe: true }, { prefix: '' }, { cgroupRoot: '/' }]) {
      const error = await env.run(activities.cleanupHost, input as never).catch((e: unknown) => e);
      expect(error).toMatchObject({ type: 'InvalidStep', nonRetryable: true });
    }
    const report = await env.run(activities.cleanupHost, { wipe: false } as never);
    expect((report as { wiped: boolean }).wiped).toBe(false);
  });
});
