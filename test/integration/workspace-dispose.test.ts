/**
 * A workspace whose `/out` cannot be unmounted still loses its bundle (config.json holds the
 * step's env, secrets included) at once, and its run folder is the sweep's: the same process's
 * sweep takes it as soon as its container is no longer in use.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentOwner } from '../../src/host/owner.js';
import { AttemptWorkspace, sweepWorkspaces } from '../../src/workspace/index.js';
import { isMountPoint, unmount } from '../../src/workspace/mounts.js';

let base: string;
let fakeBin: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'trs-dispose-'));
  // A fault the real thing cannot show on demand: an `umount` that always fails (named a fake).
  fakeBin = join(base, 'fake-bin');
  await mkdir(fakeBin);
  await writeFile(join(fakeBin, 'umount'), '#!/bin/sh\necho "fake umount: refused" >&2\nexit 32\n');
  await chmod(join(fakeBin, 'umount'), 0o755);
});

afterAll(async () => {
  const out = join(base, 'work', 'runs', 'trs-dispose-1', 'out');
  if (await isMountPoint(out)) await unmount(out);
  await rm(base, { recursive: true, force: true });
});

async function withFailingUmount<T>(body: () => Promise<T>): Promise<T> {
  const path = process.env.PATH;
  process.env.PATH = `${fakeBin}:${path}`;
  try {
    return await body();
  } finally {
    process.env.PATH = path;
  }
}

describe('attempt workspace dispose', () => {
  it('removes the bundle first when /out cannot be unmounted, and leaves the rest to the sweep of its own process', async () => {
    const workDir = join(base, 'work');
    const owner = await currentOwner('dispose-host');
    const workspace = await AttemptWorkspace.create(
      { workDir, outBytes: 1024 * 1024, logCaps: { headBytes: 1000, tailBytes: 1000 } },
      'trs-dispose-1',
      owner,
      { uid: 0, gid: 0 },
    );
    await mkdir(workspace.bundleDir);
    await writeFile(join(workspace.bundleDir, 'config.json'), '{"process":{"env":["TOKEN=SECRET-VALUE"]}}');

    await expect(withFailingUmount(() => workspace.dispose())).rejects.toThrow(
      /cannot unmount .*\/out: the run folder is left for the sweep/,
    );
    await expect(stat(workspace.bundleDir)).rejects.toThrow(/ENOENT/);
    expect(await isMountPoint(workspace.outDir)).toBe(true);

    // Its container still in use, or a sweep that cannot tell (no inUse): left alone.
    const inUse = await sweepWorkspaces(workDir, { inUse: (id) => id === workspace.containerId });
    expect(inUse.removed).toEqual([]);
    expect((await sweepWorkspaces(workDir)).removed).toEqual([]);
    // No longer in use: this process's own leftover is taken, /out unmounted first.
    const swept = await sweepWorkspaces(workDir, { inUse: () => false });
    expect(swept).toMatchObject({ removed: [workspace.containerId], problems: [] });
    expect(await isMountPoint(workspace.outDir)).toBe(false);
    expect(await readdir(join(workDir, 'runs'))).toEqual([]);
    // A later dispose (the attempt's own retry) finds nothing left to fail on.
    await workspace.dispose();
  });
});
