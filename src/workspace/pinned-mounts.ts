/**
 * Bind-mount sources pinned on the host. Admission checks a source's real path, but runsc's
 * gofer resolves the path again at `runsc run`, following links: a pipeline author with an
 * allowed read-write folder could swap a component of an admitted path for a link to `/` in
 * between. So each admitted source is bind-mounted here, as root, onto `<runDir>/mounts/<i>`
 * (the run folder is 0700, root's), the mount is checked to be the very file or folder that was
 * admitted (dev/ino), and the bundle names only that pinned path, which nobody else can change.
 *
 * A pinned bind is not recursive (no `rbind`): file systems mounted below an allowed folder are
 * not exposed to the step, only the folder's own file system.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { AdmittedSource } from '../policy/admit.js';
import { ValidationError } from '../validation.js';
import { isMountPoint, unmount } from './mounts.js';

const timeoutMs = 10_000;

export function pinnedMountsDir(runDir: string): string {
  return join(runDir, 'mounts');
}

/**
 * Pins `sources` under `runDir` and returns the pinned paths (same order), for the bundle.
 * A source that is no longer what was admitted is refused (a ValidationError naming
 * `mounts[i].source`: the step's input is at fault, a retry would not help). On any failure
 * what was mounted is unmounted again and the pinned folder removed.
 */
export async function pinMounts(runDir: string, sources: readonly AdmittedSource[]): Promise<string[]> {
  if (sources.length === 0) return [];
  const dir = pinnedMountsDir(runDir);
  await mkdir(dir, { mode: 0o700 });
  const pinned: string[] = [];
  try {
    for (const [index, source] of sources.entries()) {
      const target = join(dir, String(index));
      if (source.kind === 'folder') await mkdir(target, { mode: 0o700 });
      else
        await (await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)).close();
      try {
        await mountCommand(['--bind', source.real, target], target);
      } catch (error) {
        // A link to a file where a folder was (or the path gone) fails the mount: say why.
        const now = await lstat(source.real, { bigint: true }).catch(() => undefined);
        if (!now || now.dev !== source.dev || now.ino !== source.ino) throw changed(source);
        throw error;
      }
      pinned.push(target);
      // What is mounted now is fixed whatever happens to the path later; it must be what was
      // admitted. (mount(8) followed any link swapped in since: then the identity differs.)
      const info = await lstat(target, { bigint: true });
      if (info.dev !== source.dev || info.ino !== source.ino) throw changed(source);
      const options = source.readOnly ? 'remount,bind,ro,nosuid,nodev' : 'remount,bind,nosuid,nodev';
      await mountCommand(['-o', options, target], target);
    }
    return pinned;
  } catch (error) {
    await unpinMounts(runDir).catch(() => undefined);
    throw error;
  }
}

/**
 * Unmounts every pinned source under `runDir` (lazily when busy) and removes their folder.
 * Throws, removing nothing, if one stays mounted: removing the run folder then would reach into
 * the operator's folder through it.
 */
export async function unpinMounts(runDir: string): Promise<void> {
  const dir = pinnedMountsDir(runDir);
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) throw new Error(`${dir} is not a folder: left for the operator`);
  const stuck: string[] = [];
  for (const name of await readdir(dir)) {
    const target = join(dir, name);
    // A bind may be stacked (a mount repeated by hand): unmount until nothing is left.
    for (let i = 0; i < 8 && (await isMountPoint(target)); i++) {
      if (!(await unmount(target))) break;
    }
    if (await isMountPoint(target)) stuck.push(target);
  }
  if (stuck.length > 0)
    throw new Error(`cannot unmount ${stuck.join(', ')}: the run folder is left as it is`);
  await rm(dir, { recursive: true, force: true });
}

function changed(source: AdmittedSource): ValidationError {
  return new ValidationError('step', [
    {
      field: source.field,
      message: `${source.real} changed since it was admitted (it is no longer the same ${source.kind}; replaced by a link?): nothing ran; leave the mounted paths alone while the step starts`,
    },
  ]);
}

async function mountCommand(args: string[], target: string): Promise<void> {
  const result = await execa('mount', args, { reject: false, timeout: timeoutMs, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new Error(
      `cannot pin a mount source at ${target} (${String(result.stderr).trim() || result.shortMessage}): the worker must run as root`,
    );
  }
}
