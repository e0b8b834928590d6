/** Reading a step's /out/result.json as hostile input: no links, no FIFOs, no big files, no quotes. */
import { mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readResultFile } from '../../src/workspace/result-file.js';

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trs-result-'));
  path = join(dir, 'result.json');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = (maxBytes = 1024) => readResultFile(path, maxBytes, '/out/result.json');

describe('result file', () => {
  it('parses a small regular JSON file, and a missing one is no result', async () => {
    expect(await read()).toEqual({});
    await writeFile(path, '{"version":"1.2.3"}\n');
    expect(await read()).toEqual({ result: { version: '1.2.3' } });
  });

  it('refuses a symlink without reading its target', async () => {
    const target = join(dir, 'host-secret.json');
    await writeFile(target, '{"marker":"HOST-MARKER-1"}');
    await symlink(target, path);
    const answer = await read();
    expect(answer).toEqual({
      resultError: '/out/result.json is a symbolic link: write the result itself there',
    });
  });

  it('refuses a FIFO with no writer at once, by its type', async () => {
    await execa('mkfifo', [path]);
    expect(await read()).toEqual({
      resultError: '/out/result.json is not a regular file (a FIFO): write a regular file',
    });
  });

  it('refuses a sparse file by its size, before reading it', async () => {
    await writeFile(path, '');
    await truncate(path, 10 * 1024 ** 3);
    expect(await read()).toEqual({
      resultError:
        '/out/result.json is larger than the limit of 1024 bytes: write less, or keep big outputs in a mounted folder',
    });
  });

  it('says where JSON is invalid without quoting any of it', async () => {
    await writeFile(path, 'root:*:20200:0:99999:7:::\ndaemon:*:20200');
    const answer = (await read()) as { resultError: string };
    expect(answer.resultError).toMatch(/^\/out\/result\.json is not valid JSON/);
    expect(answer.resultError).not.toMatch(/root|daemon|20200/);
    await writeFile(path, '{"a": 1,, "SECRETKEY": 2}');
    const second = (await read()) as { resultError: string };
    expect(second.resultError).toBe('/out/result.json is not valid JSON at position 8');
  });

  it('refuses a folder', async () => {
    await execa('mkdir', [path]);
    expect(await read()).toEqual({
      resultError: '/out/result.json is not a regular file (a folder): write a regular file',
    });
  });
});
