/** The output side of an attempt: masking, the capped log, the capture, log retention. */
import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StreamCapture } from '../../src/output/capture.js';
import { OutputLog } from '../../src/output/log-writer.js';
import { Masker } from '../../src/output/mask.js';
import { sweepLogs } from '../../src/output/retention.js';
import { parseHostFileSettings } from '../../src/workspace/settings.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trs-output-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function maskAll(values: string[], chunks: string[]): string {
  const masker = new Masker(values);
  const out = chunks.map((chunk) => masker.write(Buffer.from(chunk)).toString());
  return out.join('') + masker.end().toString();
}

describe('masking', () => {
  it('replaces every occurrence of each value by ***', () => {
    expect(maskAll(['hunter2', 'tok'], ['a hunter2 b tok c hunter2\n'])).toBe('a *** b *** c ***\n');
  });

  it('masks a value split across writes, byte by byte too', () => {
    const text = 'before s3cr3t-value after';
    expect(maskAll(['s3cr3t-value'], ['before s3cr3', 't-value after'])).toBe('before *** after');
    expect(maskAll(['s3cr3t-value'], [...text])).toBe('before *** after');
  });

  it('holds back no more than a value could need, and releases it at the end', () => {
    const masker = new Masker(['abcdef']);
    expect(masker.write(Buffer.from('0123456789abc')).toString()).toBe('01234567');
    expect(masker.end().toString()).toBe('89abc');
  });

  it('masks the longer value where two start at one place, and passes text through with none', () => {
    expect(maskAll(['pass', 'password'], ['my password is'])).toBe('my *** is');
    expect(maskAll([], ['plain', ' text'])).toBe('plain text');
    expect(maskAll([''], ['plain'])).toBe('plain');
  });

  it('masks multi-byte values cut inside a character', () => {
    const value = 'clé-ü';
    const bytes = Buffer.from(`x${value}y`);
    const masker = new Masker([value]);
    const out = Buffer.concat([
      masker.write(bytes.subarray(0, 4)),
      masker.write(bytes.subarray(4)),
      masker.end(),
    ]);
    expect(out.toString()).toBe('x***y');
  });
});

describe('output log', () => {
  it('keeps everything under the caps, in a new 0600 file', async () => {
    const path = join(dir, 'a.log');
    const log = await OutputLog.create(path, { headBytes: 100, tailBytes: 100 });
    await log.write(Buffer.from('one\n'));
    await log.write(Buffer.from('two\n'));
    expect(await log.close()).toEqual({ receivedBytes: 8, droppedBytes: 0 });
    expect(await readFile(path, 'utf8')).toBe('one\ntwo\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('keeps the head and the tail, and says how many bytes were dropped between', async () => {
    const path = join(dir, 'big.log');
    const log = await OutputLog.create(path, { headBytes: 10, tailBytes: 10 });
    for (let i = 0; i < 100; i++) await log.write(Buffer.from(String(i % 10)));
    expect(await log.close()).toMatchObject({ receivedBytes: 100, droppedBytes: 80 });
    const text = await readFile(path, 'utf8');
    expect(text.startsWith('0123456789\n[temporal-runsc: 80 bytes of output dropped here')).toBe(true);
    expect(text.endsWith(']\n0123456789')).toBe(true);
  });

  it('refuses a path that exists, also a planted symlink, and writes nothing through it', async () => {
    const target = join(dir, 'target');
    await writeFile(target, 'untouched');
    await symlink(target, join(dir, 'link.log'));
    await expect(OutputLog.create(join(dir, 'link.log'), { headBytes: 10, tailBytes: 10 })).rejects.toThrow(
      /EEXIST/,
    );
    await expect(OutputLog.create(target, { headBytes: 10, tailBytes: 10 })).rejects.toThrow(/EEXIST/);
    expect(await readFile(target, 'utf8')).toBe('untouched');
  });
});

describe('stream capture', () => {
  it('masks a secret printed in two halves in both the tail and the log, and counts raw bytes', async () => {
    const path = join(dir, 'c.log');
    const log = await OutputLog.create(path, { headBytes: 1024, tailBytes: 1024 });
    const capture = new StreamCapture({ tailBytes: 1024, maskValues: ['TOPSECRET'], log });
    capture.write(Buffer.from('key=TOP'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    capture.write(Buffer.from('SECRET done\n'));
    await capture.flush();
    await log.close();
    expect(capture.text()).toBe('key=*** done\n');
    expect(await readFile(path, 'utf8')).toBe('key=*** done\n');
    expect(capture.bytes).toBe('key=TOPSECRET done\n'.length);
  });
});

describe('log retention', () => {
  const day = 24 * 3600 * 1000;

  async function logFile(name: string, bytes: number, ageMs: number): Promise<void> {
    const path = join(dir, name);
    await writeFile(path, Buffer.alloc(bytes));
    const when = new Date(Date.now() - ageMs);
    await utimes(path, when, when);
  }

  it('removes logs past the age, then the oldest past the total, and keeps logs in use', async () => {
    await logFile('old.log', 10, 10 * day);
    await logFile('old-live.log', 10, 10 * day);
    await logFile('a.log', 400, 3 * day);
    await logFile('b.log', 400, 2 * day);
    await logFile('c.log', 400, 1 * day);
    const report = await sweepLogs(
      dir,
      { maxAgeMs: 7 * day, maxTotalBytes: 1000 },
      { inUse: (name) => name === 'old-live.log' },
    );
    expect(report.removed.sort()).toEqual(['a.log', 'old.log']);
    expect((await readdir(dir)).sort()).toEqual(['b.log', 'c.log', 'old-live.log']);
    expect(report).toMatchObject({ keptFiles: 3, keptBytes: 810, problems: [] });
  });

  it('leaves files that are not attempt logs, and links, alone', async () => {
    await logFile('notes.txt', 10, 30 * day);
    await logFile('target', 10, 30 * day);
    await symlink(join(dir, 'target'), join(dir, 'link.log'));
    const report = await sweepLogs(dir, { maxAgeMs: day, maxTotalBytes: 0 });
    expect(report.removed).toEqual([]);
    expect((await lstat(join(dir, 'link.log'))).isSymbolicLink()).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['link.log', 'notes.txt', 'target']);
  });
});

describe('operator settings for host files', () => {
  it('fills small defaults and refuses a bad value naming the field', () => {
    expect(parseHostFileSettings({})).toEqual({
      logCaps: { headBytes: 1024 * 1024, tailBytes: 1024 * 1024 },
      logRetention: { maxAgeMs: 7 * 24 * 3600 * 1000, maxTotalBytes: 1024 * 1024 * 1024 },
    });
    expect(() => parseHostFileSettings({ logCaps: { headBytes: -1 } })).toThrow(/logCaps\.headBytes/);
  });
});
