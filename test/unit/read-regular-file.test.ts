/** The one hostile-file reader, and the readers built on it (a bundle's owner, a sweep's owner record). */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerAnnotation, ownerOfBundle } from '../../src/host/owner.js';
import { RegularFileError, readRegularFile } from '../../src/host/read-regular-file.js';

let base: string;
const owner = { host: 'h', pid: 1, processStart: '1' };

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'trs-regular-'));
  await writeFile(join(base, 'small'), 'hello');
  await writeFile(join(base, 'sparse'), '');
  await truncate(join(base, 'sparse'), 10 * 1024 ** 3);
  await symlink(join(base, 'small'), join(base, 'link'));
  execFileSync('mkfifo', [join(base, 'fifo')]);
  // Bundles: a real one, one whose config.json is a link to a real config, one a FIFO, one huge.
  const config = JSON.stringify({ annotations: { [ownerAnnotation]: JSON.stringify(owner) } });
  for (const name of ['real', 'linked', 'fifo-bundle', 'huge']) await mkdir(join(base, name));
  await writeFile(join(base, 'real', 'config.json'), config);
  await symlink(join(base, 'real', 'config.json'), join(base, 'linked', 'config.json'));
  execFileSync('mkfifo', [join(base, 'fifo-bundle', 'config.json')]);
  await writeFile(join(base, 'huge', 'config.json'), config);
  await truncate(join(base, 'huge', 'config.json'), 64 * 1024 ** 2);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function problemOf(path: string, maxBytes = 16) {
  const error = await readRegularFile(path, { maxBytes }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RegularFileError);
  return (error as RegularFileError).problem;
}

describe('readRegularFile', () => {
  it('reads a regular file up to its cap, with its stats', async () => {
    const { bytes, stats } = await readRegularFile(join(base, 'small'), { maxBytes: 5 });
    expect(bytes.toString()).toBe('hello');
    expect(stats.isFile()).toBe(true);
  });

  it('refuses a link (not followed), a FIFO (without blocking), a folder, a missing file and a big one by its size', async () => {
    expect(await problemOf(join(base, 'link'))).toEqual({ kind: 'open', code: 'ELOOP' });
    expect(await problemOf(join(base, 'fifo'))).toEqual({ kind: 'not-regular', what: 'a FIFO' });
    expect(await problemOf(base)).toEqual({ kind: 'not-regular', what: 'a folder' });
    expect(await problemOf(join(base, 'missing'))).toEqual({ kind: 'open', code: 'ENOENT' });
    expect(await problemOf(join(base, 'small'), 4)).toEqual({ kind: 'too-big', size: 5 });
    expect(await problemOf(join(base, 'sparse'))).toEqual({ kind: 'too-big', size: 10 * 1024 ** 3 });
  });
});

describe('ownerOfBundle', () => {
  it('reads the owner of a real bundle, and no owner through a link, a FIFO or a huge config.json', async () => {
    expect(await ownerOfBundle(join(base, 'real'))).toEqual(owner);
    expect(await ownerOfBundle(join(base, 'linked'))).toBeUndefined();
    expect(await ownerOfBundle(join(base, 'fifo-bundle'))).toBeUndefined();
    expect(await ownerOfBundle(join(base, 'huge'))).toBeUndefined();
  });
});
