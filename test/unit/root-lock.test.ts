import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockRoot, parseLockHolder } from '../../src/worker/root-lock.js';

describe('parseLockHolder', () => {
  const locks = [
    '1: POSIX  ADVISORY  WRITE 700 00:1a:4242 0 EOF',
    '2: FLOCK  ADVISORY  WRITE 812 00:19:4242 0 EOF',
    '3: FLOCK  ADVISORY  WRITE 913 00:1a:4242 0 EOF',
    '3: -> FLOCK  ADVISORY  WRITE 1000 00:1a:4242 0 EOF',
  ].join('\n');

  it('names the FLOCK holder of that device and inode, not a POSIX lock, another device or a waiter', () => {
    expect(parseLockHolder(locks, '00:1a:4242')).toBe(913);
  });

  it('finds nobody when no flock is on the file', () => {
    expect(parseLockHolder(locks, '00:1a:99')).toBeUndefined();
  });
});

describe('lockRoot', () => {
  // runsc's state files hold each container's spec (env, secrets included), 0640.
  it('creates a missing root 0700, and closes one open to group and others', async () => {
    const base = await mkdtemp(join(tmpdir(), 'trs-rootlock-'));
    try {
      const fresh = join(base, 'fresh', 'root');
      const open = join(base, 'open');
      await mkdir(open);
      await chmod(open, 0o755);
      for (const root of [fresh, open]) {
        const lock = await lockRoot(root);
        try {
          expect(((await stat(root)).mode & 0o777).toString(8)).toBe('700');
        } finally {
          await lock.release();
        }
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
