/**
 * A container path looked up in a rootfs from the host: links are followed as inside the
 * container (the rootfs is `/`), so none reaches a host file; mounts are left to runsc; the
 * start checks name the field.
 */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupInRootfs } from '../../src/host/rootfs-lookup.js';
import { stepStartProblems } from '../../src/host/step-start-checks.js';

let rootfs: string;
let outside: string;

beforeAll(async () => {
  const base = await mkdtemp(join(tmpdir(), 'trs-rootfs-'));
  rootfs = join(base, 'rootfs');
  outside = join(base, 'outside');
  await mkdir(join(rootfs, 'usr/bin'), { recursive: true });
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await mkdir(join(outside, 'secret-dir'), { recursive: true });
  await writeFile(join(rootfs, 'usr/bin/tool'), '#!/bin/sh\n');
  await chmod(join(rootfs, 'usr/bin/tool'), 0o755);
  await writeFile(join(rootfs, 'etc/conf'), 'x');
  await symlink('usr/bin', join(rootfs, 'bin'));
  await symlink('/usr/bin/tool', join(rootfs, 'usr/bin/alias'));
  // Links that point out of the rootfs on the host: inside the container they do not.
  await symlink(outside, join(rootfs, 'abs-escape'));
  await symlink('../../outside/secret-dir', join(rootfs, 'etc/rel-escape'));
  await symlink('loop-b', join(rootfs, 'loop-a'));
  await symlink('loop-a', join(rootfs, 'loop-b'));
});

afterAll(async () => {
  await rm(join(rootfs, '..'), { recursive: true, force: true });
});

describe('lookupInRootfs', () => {
  it('follows links inside the rootfs as the container would', async () => {
    expect((await lookupInRootfs(rootfs, '/bin/tool', [])).kind).toBe('file');
    expect((await lookupInRootfs(rootfs, '/usr/bin/alias', [])).kind).toBe('file');
    expect((await lookupInRootfs(rootfs, '/bin', [])).kind).toBe('directory');
    expect((await lookupInRootfs(rootfs, '/', [])).kind).toBe('directory');
  });

  it('never leaves the rootfs through a link, absolute or relative', async () => {
    // On the host these lead to an existing folder; in the container, to nothing (the host path
    // read inside the rootfs, where /tmp/... does not exist).
    expect(await lookupInRootfs(rootfs, '/abs-escape/secret-dir', [])).toMatchObject({ kind: 'missing' });
    expect(await lookupInRootfs(rootfs, '/etc/rel-escape', [])).toMatchObject({
      kind: 'missing',
      at: '/outside',
    });
  });

  it('reports missing parts, files on the way and link loops', async () => {
    expect(await lookupInRootfs(rootfs, '/no/such', [])).toEqual({ kind: 'missing', at: '/no' });
    expect(await lookupInRootfs(rootfs, '/etc/conf/x', [])).toEqual({
      kind: 'not-a-directory',
      at: '/etc/conf',
    });
    expect(await lookupInRootfs(rootfs, '/loop-a', [])).toMatchObject({ kind: 'link-loop' });
  });

  it('leaves paths under a mount to runsc, also when a link leads there', async () => {
    expect(await lookupInRootfs(rootfs, '/tmp/work', ['/tmp'])).toEqual({ kind: 'mounted', at: '/tmp' });
    await symlink('/tmp/work', join(rootfs, 'work'));
    expect(await lookupInRootfs(rootfs, '/work', ['/tmp'])).toEqual({ kind: 'mounted', at: '/tmp' });
  });
});

describe('stepStartProblems', () => {
  const check = (args: string[], cwd?: string) =>
    stepStartProblems({ rootfs, args, cwd, path: '/usr/local/bin:/bin', mountPoints: ['/src'] });

  it('accepts a program by path or through PATH, and a folder that exists', async () => {
    expect(await check(['/usr/bin/tool'], '/etc')).toEqual([]);
    expect(await check(['tool'])).toEqual([]);
    expect(await check(['/src/build.sh'], '/src/deep')).toEqual([]);
  });

  it('names the program and the working folder the rootfs lacks', async () => {
    const problems = await check(['/usr/bin/none'], '/no-such');
    expect(problems.map((p) => p.field)).toEqual(['args[0]', 'cwd']);
    expect(problems[0]?.message).toContain('/usr/bin/none does not exist in the root filesystem');
    expect(problems[1]?.message).toContain('/no-such does not exist');
    expect((await check(['none']))[0]?.message).toContain('"none" is not in any folder of PATH');
    expect((await check(['/etc/conf']))[0]?.message).toContain('is not executable');
    expect((await check(['/abs-escape/secret-dir']))[0]?.message).toContain('does not exist');
  });
});
