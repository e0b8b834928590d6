/** The output side of an attempt: masking, the capped log, the capture, log retention. */
import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StreamCapture } from '../../src/output/capture.js';
import { LogRefused, readAttemptLog, readLogFile } from '../../src/output/log-reader.js';
import { OutputLog } from '../../src/output/log-writer.js';
import { Masker } from '../../src/output/mask.js';
import { noteStream, parseRecords } from '../../src/output/records.js';
import { sweepLogs } from '../../src/output/retention.js';
import { parseHostFileSettings } from '../../src/workspace/settings.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trs-output-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A log's output lines (`stream:text`), read back as `temporal-runsc logs` reads it. */
async function output(path: string, _streams: 'all'): Promise<string> {
  const { lines } = await readWhole(path, undefined, true);
  return lines.map((l) => `${l}\n`).join('');
}

/** Reads a log whole in small chunks, by offsets, as a follower does; joins partial records. */
async function readWhole(path: string, live: OutputLog | undefined, withStream = false) {
  const lines: string[] = [];
  let skipped = 0;
  let offset = 0;
  let rest = Buffer.alloc(0);
  let partial = '';
  for (;;) {
    const read = await readAttemptLog(path, live, offset, 64);
    if (read.data.length === 0 && read.skipped === 0) break;
    skipped += read.skipped;
    const parsed = parseRecords(Buffer.concat([rest, read.data]));
    rest = Buffer.from(parsed.rest);
    for (const record of parsed.records) {
      if (record.stream === noteStream) continue;
      const text = `${withStream ? `${record.stream}:` : ''}${record.text.toString()}`;
      if (record.partial) partial += partial ? record.text.toString() : text;
      else {
        lines.push(partial ? partial + record.text.toString() : text);
        partial = '';
      }
    }
    offset = read.next;
  }
  return { lines, skipped };
}

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
  it('keeps everything under the caps as records of each stream, in a new 0600 file', async () => {
    const path = join(dir, 'a.log');
    const log = await OutputLog.create(path, { headBytes: 1000, tailBytes: 1000 });
    await log.write('stdout', Buffer.from('one\n'));
    await log.write('stderr', Buffer.from('oops\n'));
    await log.write('stdout', Buffer.from('two\nthr'));
    await log.write('stdout', Buffer.from('ee\n'));
    expect(await log.close()).toEqual({ receivedBytes: 19, droppedBytes: 0 });
    expect(await output(path, 'all')).toBe('stdout:one\nstderr:oops\nstdout:two\nstdout:three\n');
    expect(await readFile(path, 'utf8')).toMatch(
      /^\S+Z stdout F one\n\S+Z stderr F oops\n\S+Z stdout F two\n\S+Z stdout P thr\n/,
    );
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('keeps whole records of the head and the tail, says how much was dropped, and reads on by offset', async () => {
    const path = join(dir, 'big.log');
    const log = await OutputLog.create(path, { headBytes: 400, tailBytes: 400 });
    for (let i = 0; i < 200; i++) await log.write('stdout', Buffer.from(`line ${i}\n`));
    const live = await readWhole(path, log);
    const summary = await log.close();
    expect(summary.receivedBytes).toBe(Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join('').length);
    const text = await readFile(path, 'utf8');
    expect(text).toContain(`[temporal-runsc: ${summary.droppedBytes} bytes of output dropped here`);
    const after = await readWhole(path, undefined);
    // The same lines whether read while it ran or after: the head, a gap, the tail.
    expect(after).toEqual(live);
    expect(after.lines[0]).toBe('line 0');
    expect(after.lines.at(-1)).toBe('line 199');
    expect(after.skipped).toBe(summary.droppedBytes);
    const numbers = after.lines.map((l) => Number(l.split(' ')[1]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers.length).toBeLessThan(200);
  });

  it('reads a running log from where a reader left off, in memory past the head', async () => {
    const path = join(dir, 'live.log');
    const log = await OutputLog.create(path, { headBytes: 100, tailBytes: 1000 });
    await log.write('stdout', Buffer.from('first\n'));
    const one = await readAttemptLog(path, log, 0, 1 << 16);
    expect(one.state).toBe('running');
    const waited = log.waitForMore(5000);
    for (let i = 0; i < 10; i++) await log.write('stdout', Buffer.from(`more ${i}\n`));
    await waited;
    const chunks = [one.data];
    let next = one.next;
    for (;;) {
      const read = await readAttemptLog(path, log, next, 1 << 16);
      expect(read).toMatchObject({ state: 'running', skipped: 0 });
      if (read.data.length === 0) break;
      chunks.push(read.data);
      next = read.next;
    }
    expect(parseRecords(Buffer.concat(chunks)).records.map((r) => r.text.toString())).toEqual([
      'first',
      ...Array.from({ length: 10 }, (_, i) => `more ${i}`),
    ]);
    await log.close();
    const three = await readAttemptLog(path, undefined, next, 1 << 16);
    expect(three).toMatchObject({ state: 'ended', skipped: 0 });
    expect(three.data.length).toBe(0);
  });

  it('says missing for no file, and refuses a link or a FIFO in place of a log', async () => {
    expect((await readLogFile(join(dir, 'none.log'), 0, 100)).state).toBe('missing');
    await writeFile(join(dir, 'secret'), 'host secret\n');
    await symlink(join(dir, 'secret'), join(dir, 'link.log'));
    await expect(readLogFile(join(dir, 'link.log'), 0, 100)).rejects.toBeInstanceOf(LogRefused);
    await execa('mkfifo', [join(dir, 'fifo.log')]);
    await expect(readLogFile(join(dir, 'fifo.log'), 0, 100)).rejects.toBeInstanceOf(LogRefused);
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
    const capture = new StreamCapture({ tailBytes: 1024, maskValues: ['TOPSECRET'], log, stream: 'stderr' });
    capture.write(Buffer.from('key=TOP'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    capture.write(Buffer.from('SECRET done\n'));
    await capture.flush();
    await log.close();
    expect(capture.text()).toBe('key=*** done\n');
    expect(await output(path, 'all')).toBe('stderr:key=*** done\n');
    expect(await readFile(path, 'utf8')).not.toContain('TOP');
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
