import { describe, expect, it } from 'vitest';
import { parseLockHolder } from '../../src/worker/root-lock.js';

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
