import { lstat, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBundle, minimumPidsLimit, parseBundleSpec, toOciConfig } from '../../src/bundle/index.js';
import { ValidationError } from '../../src/validation.js';

const rootfs = '/srv/rootfs';

function problems(input: unknown): string[] {
  try {
    parseBundleSpec(input);
  } catch (error) {
    if (error instanceof ValidationError) return error.problems.map((p) => `${p.field}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('bundle spec validation', () => {
  it('accepts a minimal spec and fills the defaults', () => {
    const spec = parseBundleSpec({ rootfs, args: ['/bin/true'] });
    expect(spec).toMatchObject({ cwd: '/', user: { uid: 0, gid: 0 }, mounts: [], env: {} });
  });

  it.each([
    [{ rootfs: 'rel/path', args: ['/bin/true'] }, /^rootfs: must be an absolute path/],
    [{ args: ['/bin/true'] }, /^rootfs: /],
    [{ rootfs, args: [] }, /^args: must name at least the program/],
    [{ rootfs, args: '/bin/true' }, /^args: must be a list of strings/],
    [{ rootfs, args: ['/bin/true'], cwd: 'work' }, /^cwd: must be an absolute path/],
    [
      { rootfs, args: ['/bin/true'], limits: { memoryBytes: -1 } },
      /^limits\.memoryBytes: must be greater than 0/,
    ],
    [
      { rootfs, args: ['/bin/true'], limits: { pids: 16 } },
      new RegExp(`^limits\\.pids: must be at least ${minimumPidsLimit}`),
    ],
    [{ rootfs, args: ['/bin/true'], limits: { cpus: 0 } }, /^limits\.cpus: must be greater than 0/],
    [
      { rootfs, args: ['/bin/true'], mounts: [{ source: '/data', destination: 'data' }] },
      /^mounts\[0\]\.destination: must be an absolute path/,
    ],
    [{ rootfs, args: ['/bin/true'], env: { 'BAD-NAME': 'x' } }, /^env\.BAD-NAME: environment names/],
    [{ rootfs, args: ['/bin/true'], env: { N: 1 } }, /^env\.N: environment values must be strings/],
    [
      { rootfs, args: ['/bin/true'], memory: 5 },
      /^\(root\): unknown key "memory": remove it or check the spelling/,
    ],
    [{ rootfs, args: ['/bin/true'], limits: { memory: 5 } }, /^limits: unknown key "memory"/],
    [{ rootfs: '/srv/../etc', args: ['/bin/true'] }, /^rootfs: must not contain "\.\."/],
  ])('%j is refused with a message naming the field', (input, message) => {
    const found = problems(input);
    expect(found.length).toBeGreaterThan(0);
    expect(
      found.some((p) => message.test(p)),
      found.join('\n'),
    ).toBe(true);
  });

  it('lists every bad field at once', () => {
    expect(problems({ rootfs: 'x', args: [], cwd: 'y' })).toHaveLength(3);
  });
});

describe('OCI config', () => {
  const config = toOciConfig(
    parseBundleSpec({
      rootfs,
      args: ['/bin/sh', '-c', 'echo'],
      env: { A: '1' },
      user: { uid: 1000, gid: 1000 },
      mounts: [
        { source: '/in', destination: '/in' },
        { source: '/out', destination: '/out', readOnly: false },
      ],
      limits: { memoryBytes: 1 << 28, cpus: 1.5, pids: 256 },
      tmpfsBytes: 1 << 20,
      cgroupsPath: '/temporal-runsc/c1',
    }),
  );

  it('shares the rootfs read-only and gives /tmp a capped tmpfs', () => {
    expect(config.root).toEqual({ path: rootfs, readonly: true });
    expect(config.mounts.find((m) => m.destination === '/tmp')?.options).toContain(`size=${1 << 20}`);
  });

  it('binds inputs read-only and outputs read-write', () => {
    expect(config.mounts.find((m) => m.destination === '/in')?.options).toEqual([
      'rbind',
      'nosuid',
      'nodev',
      'ro',
    ]);
    expect(config.mounts.find((m) => m.destination === '/out')?.options).toEqual([
      'rbind',
      'nosuid',
      'nodev',
      'rw',
    ]);
  });

  it('drops every capability and forbids new privileges', () => {
    expect(Object.values(config.process.capabilities).flat()).toEqual([]);
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.process.user).toEqual({ uid: 1000, gid: 1000 });
  });

  it('turns limits into linux.resources', () => {
    expect(config.linux.resources).toEqual({
      memory: { limit: 1 << 28 },
      cpu: { quota: 150_000, period: 100_000 },
      pids: { limit: 256 },
    });
    expect(config.linux.cgroupsPath).toBe('/temporal-runsc/c1');
  });

  it('keeps the step’s env and a default PATH', () => {
    expect(config.process.env).toContain('A=1');
    expect(config.process.env.some((e) => e.startsWith('PATH='))).toBe(true);
  });
});

describe('createBundle', () => {
  it('refuses a rootfs that does not exist, saying how to fix it', async () => {
    await expect(
      createBundle('/tmp/never', { rootfs: '/nonexistent/rootfs', args: ['/bin/true'] }),
    ).rejects.toThrow(/rootfs: \/nonexistent\/rootfs is not a folder/);
  });
});

describe('config.json on disk', () => {
  it('is 0600, written again in place, and a link at its name is replaced, not followed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trs-bundle-'));
    try {
      const victim = join(dir, 'victim');
      await writeFile(victim, 'untouched');
      const bundle = join(dir, 'bundle');
      await createBundle(bundle, { rootfs: dir, args: ['/bin/true'], env: { TOKEN: 'x' } });
      expect((await stat(join(bundle, 'config.json'))).mode & 0o777).toBe(0o600);
      await rm(join(bundle, 'config.json'));
      await symlink(victim, join(bundle, 'config.json'));
      await createBundle(bundle, { rootfs: dir, args: ['/bin/echo', 'again'] });
      expect(await readFile(victim, 'utf8')).toBe('untouched');
      expect((await lstat(join(bundle, 'config.json'))).isFile()).toBe(true);
      expect(JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')).process.args).toEqual([
        '/bin/echo',
        'again',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
