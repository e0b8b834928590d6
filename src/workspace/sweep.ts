import { constants } from 'node:fs';
import { lstat, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type ContainerOwner, ownerAlive } from '../host/owner.js';
import { ownerFileName, runsDir } from './attempt-workspace.js';
import { isMountPoint, unmount } from './mounts.js';
import { unpinMounts } from './pinned-mounts.js';

export interface WorkspaceSweepReport {
  dir: string;
  removed: string[];
  problems: string[];
}

/** A folder with no owner record is left this long (its worker may be writing the record). */
const unownedMinAgeMs = 60_000;
const validName = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Removes attempt workspaces that no live worker owns: a worker that crashed left its run
 * folders (a bundle whose config.json may hold secrets, and `/out` still mounted). Skips ids
 * in `inUse` and any folder whose recorded owner process is still alive, this one included;
 * unmounts before removing, and removal never follows a link.
 */
export async function sweepWorkspaces(
  workDir: string,
  options: { inUse?: (containerId: string) => boolean; now?: number } = {},
): Promise<WorkspaceSweepReport> {
  const dir = runsDir(workDir);
  const report: WorkspaceSweepReport = { dir, removed: [], problems: [] };
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return report;
  if (!info.isDirectory()) {
    report.problems.push(`${dir} is not a folder (a link?): not swept`);
    return report;
  }
  const now = options.now ?? Date.now();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !validName.test(entry.name) || options.inUse?.(entry.name)) continue;
    const runDir = join(dir, entry.name);
    try {
      const owner = await readOwner(join(runDir, ownerFileName));
      if (owner ? await ownerAlive(owner) : now - (await lstat(runDir)).mtimeMs < unownedMinAgeMs) continue;
      // The pinned mount sources first, or removal would reach into the operator's folders.
      await unpinMounts(runDir);
      const outDir = join(runDir, 'out');
      if ((await isMountPoint(outDir)) && !(await unmount(outDir))) {
        report.problems.push(`${outDir}: still mounted after a lazy unmount`);
        continue;
      }
      await rm(runDir, { recursive: true, force: true });
      report.removed.push(entry.name);
    } catch (error) {
      report.problems.push(`${runDir}: ${(error as Error).message}`);
    }
  }
  return report;
}

async function readOwner(path: string): Promise<ContainerOwner | undefined> {
  try {
    const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      if (!(await file.stat()).isFile()) return undefined;
      return JSON.parse(await file.readFile('utf8')) as ContainerOwner;
    } finally {
      await file.close();
    }
  } catch {
    return undefined;
  }
}
