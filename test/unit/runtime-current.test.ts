/** What differs between the supported runsc builds, and the checks that keep cleanup in a root. */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimumPidsLimit, minimumPidsLimitFor, pidsLimitProblem } from '../../src/bundle/spec.js';
import { argsNameRoot } from '../../src/host/processes.js';
import { checkStateRoot, runscEntryOf } from '../../src/host/state-root.js';
import { UnsafeStateRoot } from '../../src/runtime/errors.js';
import { releaseOf, traitsOf } from '../../src/runtime/version.js';
import { currentRunscRelease, runscBuilds } from '../support/runsc-builds.js';

describe('runsc versions', () => {
  it('reads the release date of both builds, and none from an unlabelled build', () => {
    expect(releaseOf('runsc version 0.0~20221219.0')).toBe('20221219');
    expect(releaseOf('runsc version release-20260905.0-go')).toBe('20260905');
    expect(releaseOf('runsc version VERSION_MISSING')).toBeUndefined();
  });

  it('knows each build’s default platform: ptrace in 2022, systrap since mid-2023', () => {
    expect(traitsOf({ version: 'runsc version 0.0~20221219.0' }).defaultPlatform).toBe('ptrace');
    expect(traitsOf({ version: 'runsc version release-20260905.0-go' }).defaultPlatform).toBe('systrap');
    expect(traitsOf({ version: 'runsc version VERSION_MISSING' }).defaultPlatform).toBe('systrap');
    expect(traitsOf({ version: 'runc version 1.1.12' }, 'runc').defaultPlatform).toBeUndefined();
  });

  it('the tests’ build paths are the ones scripts/setup.sh installs', async () => {
    const shell = await readFile(new URL('../../scripts/runsc-builds.sh', import.meta.url), 'utf8');
    expect(shell).toContain(`runsc_release="${currentRunscRelease}"`);
    expect(shell).toContain(`runsc_debian2022="${runscBuilds().debian2022}"`);
    expect(runscBuilds().current.endsWith(`/bin/runsc-${currentRunscRelease}`)).toBe(true);
  });
});

describe('pids floor per platform (measured: systrap 24, ptrace 48)', () => {
  it('is 64 under systrap, 128 under ptrace and unmeasured platforms', () => {
    expect(minimumPidsLimitFor('systrap')).toBe(64);
    expect(minimumPidsLimitFor('ptrace')).toBe(128);
    expect(minimumPidsLimitFor('kvm')).toBe(128);
    expect(minimumPidsLimitFor(undefined)).toBe(128);
    expect(minimumPidsLimit).toBe(64);
  });

  it('names the field’s fix for the platform it runs on', () => {
    expect(pidsLimitProblem(100, 'ptrace')).toMatch(/at least 128 on runsc's ptrace platform \(100 given\)/);
    expect(pidsLimitProblem(100, 'systrap')).toBeUndefined();
    expect(pidsLimitProblem(undefined, 'ptrace')).toBeUndefined();
  });
});

describe('state roots', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'trs-unit-roots-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('reads runsc’s entries by name', () => {
    expect(runscEntryOf('trs-a_sandbox:trs-a.state')).toEqual({
      name: 'trs-a_sandbox:trs-a.state',
      kind: 'state',
      id: 'trs-a',
    });
    expect(runscEntryOf('trs-a_sandbox:trs-a.lock')?.kind).toBe('lock');
    expect(runscEntryOf('runsc-trs-a.sock')).toMatchObject({ kind: 'socket', id: 'trs-a' });
    expect(runscEntryOf('null-netns')).toMatchObject({ kind: 'null-netns' });
    for (const name of ['notes.txt', 'trs-a.state', 'runsc-.sock', '.gvisor.filestore.trs-a']) {
      expect(runscEntryOf(name)).toBeUndefined();
    }
  });

  it('accepts a folder of runtime state only, and one that does not exist', async () => {
    const root = join(base, 'good');
    await mkdir(root);
    for (const name of ['a_sandbox:a.state', 'a_sandbox:a.lock', 'runsc-a.sock', 'null-netns']) {
      await writeFile(join(root, name), '');
    }
    expect((await checkStateRoot(root, 'runsc')).map((e) => e.kind).sort()).toEqual([
      'lock',
      'null-netns',
      'socket',
      'state',
    ]);
    expect(await checkStateRoot(join(base, 'missing'), 'runsc')).toEqual([]);
  });

  it('accepts runc’s per-container folders, but not one holding another root', async () => {
    const root = join(base, 'runc');
    await mkdir(join(root, 'c1'), { recursive: true });
    await writeFile(join(root, 'c1', 'state.json'), '{}');
    expect(await checkStateRoot(root, 'runc')).toEqual([{ name: 'c1', kind: 'container-dir', id: 'c1' }]);
    await writeFile(join(root, 'c1', 'x_sandbox:x.state'), '{}');
    await expect(checkStateRoot(root, 'runc')).rejects.toThrow(/holds files that are not runc state \(c1\)/);
  });

  it.each([
    ['/', /file system root/],
    ['.', /absolute path/],
    ['run/x', /absolute path/],
    ['/run//x', /plain absolute path/],
    ['/run/x/', /plain absolute path/],
    ['/run/x/../y', /plain absolute path/],
    ['/root', /home folder/],
    ['/home', /home folder/],
  ])('refuses %j', async (root, reason) => {
    const error = await checkStateRoot(root, 'runsc').catch((e) => e);
    expect(error).toBeInstanceOf(UnsafeStateRoot);
    expect(error.message).toMatch(reason);
  });

  it('refuses a symlink, and a folder with foreign files or a nested root, naming them', async () => {
    const real = join(base, 'real');
    await mkdir(real);
    await symlink(real, join(base, 'link'));
    await expect(checkStateRoot(join(base, 'link'), 'runsc')).rejects.toThrow(/not a folder/);
    await writeFile(join(real, 'keep-me.txt'), '');
    await mkdir(join(real, 'nested'));
    await expect(checkStateRoot(real, 'runsc')).rejects.toThrow(
      /\(keep-me\.txt, nested\)|\(nested, keep-me\.txt\)/,
    );
  });
});

describe('processes of a root', () => {
  it('match the root exactly, never a prefix of it', () => {
    expect(argsNameRoot(['runsc', '--root=/run/a', 'list'], '/run/a')).toBe(true);
    expect(argsNameRoot(['runsc', '--root', '/run/a', 'list'], '/run/a')).toBe(true);
    for (const args of [
      ['runsc', '--root=/run/ab', 'list'],
      ['runsc', '--root=/run/a/nested', 'list'],
      ['runsc', '--root', '/run/a-2', 'list'],
      ['runsc', 'list', '/run/a'],
    ]) {
      expect(argsNameRoot(args, '/run/a')).toBe(false);
    }
  });
});
