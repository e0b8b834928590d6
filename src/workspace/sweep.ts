import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type ContainerOwner, ownerAlive } from '../host/owner.js';
import { readRegularFile } from '../host/read-regular-file.js';
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
const ownerRecordMaxBytes = 4096;
const validName = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Removes attempt workspaces that no live worker owns: a worker that crashed left its run
 * folders (a bundle whose config.json may hold secrets, and `/out` still mounted). Skips ids
 * in `inUse` and any folder whose recorded owner process is still alive, except this process's
 * own folders when `inUse` is given (one not in use is a leftover of a failed dispose);
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
      if (
        owner
          ? await ownedElsewhereOrLive(owner, options.inUse)
          : now - (await lstat(runDir)).mtimeMs < unownedMinAgeMs
      )
        continue;
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

/**
 * Whether a folder with a live owner must be left. Another live process's folder is always
 * left; one of this process is a leftover (a failed dispose, its bundle maybe still there) once
 * its container is no longer in use, which only a caller that passes `inUse` can tell.
 */
async function ownedElsewhereOrLive(
  owner: ContainerOwner,
  inUse: ((containerId: string) => boolean) | undefined,
): Promise<boolean> {
  if (!(await ownerAlive(owner))) return false;
  return owner.pid !== process.pid || inUse === undefined;
}

/** An owner record is a few dozen bytes; anything else (a link, a FIFO, a huge file) is no owner. */
async function readOwner(path: string): Promise<ContainerOwner | undefined> {
  try {
    const { bytes } = await readRegularFile(path, { maxBytes: ownerRecordMaxBytes });
    return JSON.parse(bytes.toString('utf8')) as ContainerOwner;
  } catch {
    return undefined;
  }
}
