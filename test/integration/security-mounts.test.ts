/**
 * Bind-mount sources are pinned on the host at the attempt's start (src/workspace/pinned-mounts.ts):
 * a source swapped for a link after admission is refused and nothing is mounted; an allowed
 * read-only mount still works end to end and cannot be written; a dead worker's pinned mounts
 * are unmounted by the sweep before its run folder is removed, and the operator's files survive.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { PolicyGate } from '../../src/policy/admit.js';
import { parsePolicy } from '../../src/policy/load.js';
import type { SandboxPolicyInput } from '../../src/policy/schema.js';
import { ValidationError } from '../../src/validation.js';
import { pinMounts, unpinMounts } from '../../src/workspace/pinned-mounts.js';
import { sweepWorkspaces } from '../../src/workspace/sweep.js';
import { testActivities } from '../support/activities.js';
import { runtimeUnderTestLabel } from '../support/runsc-builds.js';
import { testRuntime, uniqueId } from '../support/runtime.js';

const runtime = testRuntime();
const base = join(inject('workDir'), 'security-mounts');

/** A fresh folder tree: an allowed folder with `data/file`, and a host folder with a marker. */
async function fixture() {
  const dir = join(base, randomBytes(4).toString('hex'));
  const allowed = join(dir, 'allowed');
  const host = join(dir, 'host');
  const runDir = join(dir, 'run');
  await mkdir(join(allowed, 'data'), { recursive: true });
  await mkdir(host, { recursive: true });
  await mkdir(runDir, { mode: 0o700 });
  await writeFile(join(allowed, 'data', 'file'), 'allowed data\n');
  await writeFile(join(host, 'marker'), 'host secret\n');
  return { dir, allowed, host, runDir };
}

async function gate(policy: SandboxPolicyInput, workDir: string) {
  return PolicyGate.create({
    policy: parsePolicy(policy),
    runtime,
    rootfs: inject('rootfs'),
    workDir,
    warn: () => undefined,
  });
}

/** Mount points at or below `dir` in this namespace. */
async function mountsUnder(dir: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

describe('pinned mount sources', () => {
  it('refuse a source swapped for a link after admission, naming the field, and mount nothing', async () => {
    const { dir, allowed, host, runDir } = await fixture();
    const admitted = await (await gate({ mounts: { readWrite: [allowed] } }, join(dir, 'work'))).admit({
      step: 'swap',
      args: ['/bin/true'],
      mounts: [{ source: join(allowed, 'data'), destination: '/data', readOnly: true }],
    });
    // The pipeline author, who may write in the allowed folder, swaps it between admission and run.
    await rename(join(allowed, 'data'), join(allowed, 'data.old'));
    await symlink(host, join(allowed, 'data'));

    const error = await pinMounts(runDir, admitted.mountSources).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).problems).toEqual([
      {
        field: 'mounts[0].source',
        message: expect.stringContaining(`${join(allowed, 'data')} changed since it was admitted`),
      },
    ]);
    expect(await mountsUnder(runDir)).toEqual([]);
    expect(await readdir(runDir)).toEqual([]);
  });

  it('refuse a folder swapped for a link to a file', async () => {
    const { dir, allowed, host, runDir } = await fixture();
    const admitted = await (await gate({ mounts: { readWrite: [allowed] } }, join(dir, 'work'))).admit({
      step: 'swap',
      args: ['/bin/true'],
      mounts: [{ source: join(allowed, 'data'), destination: '/data', readOnly: false }],
    });
    await rename(join(allowed, 'data'), join(allowed, 'data.old'));
    await symlink(join(host, 'marker'), join(allowed, 'data'));
    const error = await pinMounts(runDir, admitted.mountSources).catch((e: unknown) => e);
    expect((error as ValidationError).problems?.[0]?.field).toBe('mounts[0].source');
    expect((error as Error).message).toContain('changed since it was admitted');
    expect(await mountsUnder(runDir)).toEqual([]);
  });

  it('pin an unchanged source read-only, nosuid, nodev and non-recursive, and unpin it', async () => {
    const { dir, allowed, runDir } = await fixture();
    // A file system mounted inside the allowed folder: a pinned bind does not carry it along.
    await mkdir(join(allowed, 'data', 'sub'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', join(allowed, 'data', 'sub')]);
    try {
      await writeFile(join(allowed, 'data', 'sub', 'inner'), 'submount\n');
      const admitted = await (await gate({ mounts: { readOnly: [allowed] } }, join(dir, 'work'))).admit({
        step: 'pin',
        args: ['/bin/true'],
        mounts: [{ source: join(allowed, 'data'), destination: '/data' }],
      });
      const [pinned] = await pinMounts(runDir, admitted.mountSources);
      expect(pinned).toBe(join(runDir, 'mounts', '0'));
      expect(await readFile(join(pinned as string, 'file'), 'utf8')).toBe('allowed data\n');
      expect(existsSync(join(pinned as string, 'sub', 'inner'))).toBe(false);
      const { stdout } = await execa('findmnt', ['-n', '-o', 'OPTIONS', pinned as string]);
      expect(stdout.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
      await unpinMounts(runDir);
      expect(await mountsUnder(runDir)).toEqual([]);
      expect(await readdir(runDir)).toEqual([]);
      expect(await readFile(join(allowed, 'data', 'file'), 'utf8')).toBe('allowed data\n');
    } finally {
      await execa('umount', [join(allowed, 'data', 'sub')], { reject: false });
    }
  });

  it('are unmounted by the sweep of a dead worker’s run folder, and the operator’s files survive', async () => {
    const { dir, allowed } = await fixture();
    const workDir = join(dir, 'work');
    const stale = join(workDir, 'runs', 'trs-stale-pinned-a1');
    await mkdir(stale, { recursive: true, mode: 0o700 });
    // A process that cannot exist: pid_max is at most 2^22.
    await writeFile(
      join(stale, 'owner.json'),
      JSON.stringify({ host: 'h', pid: 4194304, processStart: '1' }),
    );
    const admitted = await (await gate({ mounts: { readWrite: [allowed] } }, workDir)).admit({
      step: 'stale',
      args: ['/bin/true'],
      mounts: [{ source: join(allowed, 'data'), destination: '/data', readOnly: false }],
    });
    await pinMounts(stale, admitted.mountSources);
    try {
      expect(await mountsUnder(stale)).toHaveLength(1);
      const report = await sweepWorkspaces(workDir);
      expect(report).toMatchObject({ removed: ['trs-stale-pinned-a1'], problems: [] });
      expect(await mountsUnder(dir)).toEqual([]);
      // (A sweep that removed the run folder without unpinning would have emptied this folder.)
      expect(await readFile(join(allowed, 'data', 'file'), 'utf8')).toBe('allowed data\n');
    } finally {
      if (existsSync(stale)) await unpinMounts(stale);
    }
  });
});

describe(`a step with an allowed read-only mount (${runtimeUnderTestLabel()})`, () => {
  it('reads it through the pinned source, cannot write to it, and leaves no mount behind', async () => {
    const { allowed } = await fixture();
    const workDir = join(inject('workDir'), 'activities');
    const activities = await testActivities({ runtime, policy: { mounts: { readOnly: [allowed] } } });
    const workflowId = uniqueId('mnt');
    const env = new MockActivityEnvironment({
      workflowExecution: { workflowId, runId: 'run-1' },
      activityId: '1',
      attempt: 1,
      heartbeatTimeoutMs: 5000,
    } as never);
    const result = await env.run(activities.runContainer, {
      step: 'read',
      args: [
        '/bin/sh',
        '-c',
        'cat /data/file; if echo x > /data/file 2>/dev/null || touch /data/new 2>/dev/null; then echo WROTE; else echo refused; fi',
      ],
      mounts: [{ source: join(allowed, 'data'), destination: '/data' }],
    });
    expect(result).toMatchObject({ exitCode: 0, stdoutTail: 'allowed data\nrefused\n' });
    expect(await readFile(join(allowed, 'data', 'file'), 'utf8')).toBe('allowed data\n');
    expect(existsSync(join(allowed, 'data', 'new'))).toBe(false);
    expect(await mountsUnder(join(workDir, 'runs'))).toEqual([]);
    expect(await mountsUnder(allowed)).toEqual([]);
  });
});
