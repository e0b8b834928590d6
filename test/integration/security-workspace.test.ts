/**
 * The attempt workspace against a hostile step, with real runsc: `/out` is bounded and its own
 * file system, links a step plants are never followed by the worker, planted paths fail the
 * attempt instead of redirecting the worker's writes, config.json is root's and short-lived,
 * logs are capped, survive a full disk, are masked, and are swept with leftover workspaces.
 */
import { randomBytes } from 'node:crypto';
import {
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  statfs,
  symlink,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type {
  HostCleanupReport,
  RunContainerInput,
  RunContainerResult,
  RunHeartbeat,
  SandboxActivities,
  SandboxActivityOptions,
} from '../../activities/index.js';
import { StreamCapture } from '../../src/output/capture.js';
import { OutputLog } from '../../src/output/log-writer.js';
import { parseRecords } from '../../src/output/records.js';
import { isMountPoint } from '../../src/workspace/mounts.js';
import { testActivities } from '../support/activities.js';
import { testBundle, testRuntime, uniqueId } from '../support/runtime.js';

const runtime = testRuntime();
let base: string;

beforeAll(async () => {
  base = join(inject('workDir'), `security-workspace-${randomBytes(4).toString('hex')}`);
  await mkdir(base, { recursive: true });
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A worker's activities on a work dir of their own. */
async function worker(options: Partial<SandboxActivityOptions> = {}) {
  const workDir = join(base, randomBytes(4).toString('hex'));
  const activities = await testActivities({ workDir, ...options });
  return { workDir, activities };
}

function environment(workflowId = uniqueId('wf')) {
  return new MockActivityEnvironment({
    workflowExecution: { workflowId, runId: 'run-1' },
    activityId: '1',
    attempt: 1,
    heartbeatTimeoutMs: 2000,
  } as never);
}

function runStep(
  activities: SandboxActivities,
  input: RunContainerInput,
  env = environment(),
): Promise<RunContainerResult> {
  return env.run(activities.runContainer, input);
}

/** A host file and folder a hostile step aims at; `intact()` says whether they are untouched. */
async function victim() {
  const dir = join(base, `victim-${randomBytes(4).toString('hex')}`);
  await mkdir(dir);
  const file = join(dir, 'precious.txt');
  await writeFile(file, 'precious\n');
  return {
    dir,
    file,
    intact: async () =>
      (await readdir(dir)).join(',') === 'precious.txt' && (await readFile(file, 'utf8')) === 'precious\n',
  };
}

describe('/out', () => {
  it('is capped: 300 MB of dd fails with no space, the result says so, and the next step runs', async () => {
    const { workDir, activities } = await worker();
    // While the step runs: the file system under its /out, seen from the host.
    const env = environment();
    let outFs: Promise<{ bytes: number; type: number }> | undefined;
    env.on('heartbeat', (beat: RunHeartbeat) => {
      outFs ??= statfs(join(workDir, 'runs', beat.containerId, 'out')).then((s) => ({
        bytes: s.blocks * s.bsize,
        type: s.type,
      }));
    });
    const result = await runStep(
      activities,
      {
        step: 'fill',
        args: [
          '/bin/sh',
          '-c',
          'dd if=/dev/zero of=/out/big bs=1M count=300; s=$(stat -c %s /out/big); sleep 1; rm /out/big; echo "{\\"size\\":$s}" > /out/result.json',
        ],
      },
      env,
    );
    expect(result.stderrTail).toMatch(/No space left on device/);
    expect((result.result as { size: number }).size).toBeLessThanOrEqual(1024 * 1024);
    // A tmpfs (TMPFS_MAGIC) of 1 MiB: the 300 MB never reached the worker's disk.
    expect(await outFs).toEqual({ bytes: 1024 * 1024, type: 0x01021994 });
    expect(await readdir(join(workDir, 'runs'))).toEqual([]);
    const next = await runStep(activities, {
      step: 'next',
      args: ['/bin/sh', '-c', 'echo {} > /out/result.json'],
    });
    expect(next.result).toEqual({});
  });

  it('belongs to the step’s user: a non-root step writes its result', async () => {
    const { activities } = await worker();
    const result = await runStep(activities, {
      step: 'nonroot',
      user: { uid: 1000, gid: 1000 },
      args: ['/bin/sh', '-c', 'echo "{\\"uid\\":$(id -u)}" > /out/result.json'],
    });
    expect(result.result).toEqual({ uid: 1000 });
  });

  it('links a step leaves there are not followed when the worker removes it', async () => {
    const { activities } = await worker();
    const target = await victim();
    const result = await runStep(activities, {
      step: 'links',
      args: [
        '/bin/sh',
        '-c',
        `ln -s ${target.dir} /out/dir; ln -s ${target.file} /out/file; ln -s /etc /out/etc`,
      ],
    });
    expect(result.exitCode).toBe(0);
    expect(await target.intact()).toBe(true);
    expect((await stat('/etc/passwd')).isFile()).toBe(true);
  });
});

describe('paths the worker writes', () => {
  /** Runs a step once, and returns its activity environment's info for a second run of the same id. */
  async function firstRun() {
    const { workDir, activities } = await worker();
    const workflowId = uniqueId('wf');
    const first = await runStep(activities, { step: 'first', args: ['/bin/true'] }, environment(workflowId));
    return { workDir, activities, workflowId, first };
  }

  it('a link planted at the log path fails the attempt and nothing is written through it', async () => {
    const { activities, workflowId, first } = await firstRun();
    const target = await victim();
    await unlink(first.logPath);
    await symlink(target.file, first.logPath);
    const error = await runStep(
      activities,
      { step: 'first', args: ['/bin/sh', '-c', 'echo REDIRECTED'] },
      environment(workflowId),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect((error as ApplicationFailure).message).toContain(first.logPath);
    expect(await target.intact()).toBe(true);
  });

  it('a link planted at the run folder fails the attempt and no bundle is written through it', async () => {
    const { workDir, activities, workflowId, first } = await firstRun();
    const target = await victim();
    const runDir = join(workDir, 'runs', first.containerId);
    await unlink(first.logPath);
    await symlink(target.dir, runDir);
    const error = await runStep(
      activities,
      { step: 'first', args: ['/bin/true'], env: { TOKEN: 'planted-secret' } },
      environment(workflowId),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'RuntimeError' });
    expect((error as Error).message).toContain(runDir);
    expect(await target.intact()).toBe(true);
  });

  it('config.json is root’s alone while the step runs, and gone after it, also after a failure', async () => {
    const { workDir, activities } = await worker();
    const env = environment();
    const modes: number[] = [];
    let looked = false;
    env.on('heartbeat', (beat: RunHeartbeat) => {
      const config = join(workDir, 'runs', beat.containerId, 'bundle', 'config.json');
      if (looked) return;
      looked = true;
      void stat(config).then(
        (s) => modes.push(s.mode & 0o777),
        () => undefined,
      );
    });
    await runStep(activities, { step: 'slow', args: ['/bin/sleep', '1'], env: { TOKEN: 'x' } }, env);
    expect(modes).toEqual([0o600]);
    expect(await readdir(join(workDir, 'runs'))).toEqual([]);
    const failed = await runStep(activities, { step: 'failing', args: ['/bin/sh', '-c', 'exit 3'] }).catch(
      (e: unknown) => e,
    );
    expect(failed).toMatchObject({ type: 'ContainerExit' });
    expect(await readdir(join(workDir, 'runs'))).toEqual([]);
  });
});

describe('output logs', () => {
  it('keep the head and the tail, with a line saying how much was dropped, in a 0600 file', async () => {
    const { activities } = await worker({ logCaps: { headBytes: 1000, tailBytes: 1000 } });
    const result = await runStep(activities, { step: 'chatty', args: ['/bin/seq', '1', '100000'] });
    const log = await readFile(result.logPath, 'utf8');
    const texts = parseRecords(Buffer.from(log)).records.map((r) => `${r.stream} ${r.text}`);
    expect(texts.slice(0, 3)).toEqual(['stdout 1', 'stdout 2', 'stdout 3']);
    expect(
      texts.some((t) => /^temporal-runsc \[temporal-runsc: \d+ bytes of output dropped here/.test(t)),
    ).toBe(true);
    // The last output, then the end note that tells readers where the head, the gap and the tail are.
    expect(texts.slice(-3, -1)).toEqual(['stdout 99999', 'stdout 100000']);
    expect(texts.at(-1)).toMatch(/^temporal-runsc \[temporal-runsc: end head=\d+ dropped=\d+ note=\d+\]$/);
    expect(log.length).toBeLessThan(2400);
    expect((await stat(result.logPath)).mode & 0o777).toBe(0o600);
    expect(result.stdoutTail.endsWith('100000\n')).toBe(true);
  });

  it('a full disk stops the log, not the worker: the tails come back and the next step runs', async () => {
    const workDir = join(base, `full-${randomBytes(4).toString('hex')}`);
    const logs = join(workDir, 'logs');
    await mkdir(logs, { recursive: true, mode: 0o700 });
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', logs]);
    try {
      const activities = await testActivities({ workDir });
      const result = await runStep(activities, { step: 'flood', args: ['/bin/seq', '1', '300000'] });
      expect(result.exitCode).toBe(0);
      expect(result.stdoutTail.endsWith('299999\n300000\n')).toBe(true);
      expect(result.logError).toMatch(/ENOSPC: the log stops here/);
      const next = await runStep(activities, { step: 'next', args: ['/bin/sh', '-c', 'echo still serving'] });
      expect(next.stdoutTail).toBe('still serving\n');
    } finally {
      await execa('umount', ['-l', logs]);
    }
  });

  it('mask a secret the step prints in two halves, with a pause between, in the tail and the log', async () => {
    const id = uniqueId('mask');
    const bundle = await testBundle(id, [
      '/bin/sh',
      '-c',
      "printf 'token=SUPER'; sleep 0.5; printf 'SECRET-42 done\\n'",
    ]);
    const path = join(base, `${id}.log`);
    const log = await OutputLog.create(path, { headBytes: 4096, tailBytes: 4096 });
    const stdout = new StreamCapture({ tailBytes: 4096, maskValues: ['SUPERSECRET-42'], log });
    const run = await runtime.run(id, bundle, { stdout });
    await stdout.flush();
    await log.close();
    expect(run.exitCode).toBe(0);
    expect(stdout.text()).toBe('token=*** done\n');
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain('SUPER');
    expect(text).not.toContain('SECRET');
    const output = parseRecords(Buffer.from(text))
      .records.filter((r) => r.stream === 'stdout')
      .map((r) => `${r.text}${r.partial ? '' : '\n'}`)
      .join('');
    expect(output).toBe('token=*** done\n');
  });
});

describe('the janitor', () => {
  it('at start and in cleanupHost: removes a dead worker’s workspace (unmounting its /out) and old logs', async () => {
    const workDir = join(base, `janitor-${randomBytes(4).toString('hex')}`);
    const stale = join(workDir, 'runs', 'trs-stale-a1');
    await mkdir(join(stale, 'out'), { recursive: true });
    await mkdir(join(stale, 'bundle'));
    await writeFile(join(stale, 'bundle', 'config.json'), '{"process":{"env":["TOKEN=left-behind"]}}');
    // A process that cannot exist: pid_max is at most 2^22, and pids stay below it.
    await writeFile(
      join(stale, 'owner.json'),
      JSON.stringify({ host: 'h', pid: 4194304, processStart: '1' }),
    );
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', join(stale, 'out')]);
    const logs = join(workDir, 'logs');
    await mkdir(logs, { recursive: true });
    const old = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    await writeFile(join(logs, 'trs-old-a1.log'), 'old\n');
    await utimes(join(logs, 'trs-old-a1.log'), old, old);
    await writeFile(join(logs, 'trs-new-a1.log'), 'new\n');

    const activities = await testActivities({ workDir });
    expect(await isMountPoint(join(stale, 'out'))).toBe(false);
    expect(await readdir(join(workDir, 'runs'))).toEqual([]);
    expect(await readdir(logs)).toEqual(['trs-new-a1.log']);

    await writeFile(join(logs, 'trs-old-a2.log'), 'old\n');
    await utimes(join(logs, 'trs-old-a2.log'), old, old);
    const report = (await new MockActivityEnvironment().run(activities.cleanupHost, {})) as HostCleanupReport;
    expect(report.logs.removed).toEqual(['trs-old-a2.log']);
    expect(await readdir(logs)).toEqual(['trs-new-a1.log']);
  });
});
