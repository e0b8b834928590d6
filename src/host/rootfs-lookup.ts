/**
 * What a path inside the container is in the step's root filesystem, found from the host (as
 * root) without ever leaving that folder: each component is looked at with lstat, and a link is
 * followed as the container would follow it, with the rootfs as `/` (an absolute target starts
 * again at the rootfs, `..` stops at it), so no link in the rootfs reaches a host path. Nothing
 * is opened (a FIFO or a device costs nothing), nothing is written. The rootfs is the
 * operator's; the path may come from a hostile result (a step's cwd from `${steps.x.result}`).
 *
 * Paths at or under a mount (the step's own, `/out`, `/tmp`, the sandbox's `/proc`, `/dev`,
 * `/sys`) are not in the rootfs: they come back `mounted`, for runsc to judge.
 */
import type { Stats } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export type RootfsEntry =
  | { kind: 'directory' | 'file' | 'other'; stats: Stats }
  | { kind: 'missing'; at: string }
  | { kind: 'not-a-directory'; at: string }
  | { kind: 'link-loop'; at: string }
  | { kind: 'mounted'; at: string };

/** Links followed at most, as Linux does (ELOOP past 40). */
const maxLinks = 40;

const under = (path: string, folder: string) =>
  folder === '/' || path === folder || path.startsWith(`${folder}/`);

/**
 * Looks `path` (absolute, inside the container) up in `rootfs`; `mountPoints` are the container
 * paths that something else is mounted on.
 */
export async function lookupInRootfs(
  rootfs: string,
  path: string,
  mountPoints: readonly string[],
): Promise<RootfsEntry> {
  const pending = path.split('/');
  const resolved: string[] = [];
  let links = 0;
  let stats: Stats | undefined;
  const here = () => `/${resolved.join('/')}`;
  const mounted = () => mountPoints.find((point) => point !== '/' && under(here(), point));
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      stats = undefined;
      continue;
    }
    const at = `${here()}${resolved.length ? '/' : ''}${part}`;
    if (mountPoints.some((point) => point !== '/' && under(at, point))) return { kind: 'mounted', at };
    // Every component before this one is a real folder (links were replaced by their targets).
    const hostPath = join(rootfs, ...resolved, part);
    let entry: Stats;
    try {
      entry = await lstat(hostPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'missing', at };
      if (code === 'ENOTDIR') return { kind: 'not-a-directory', at: here() };
      throw error;
    }
    if (entry.isSymbolicLink()) {
      if (++links > maxLinks) return { kind: 'link-loop', at };
      const target = await readlink(hostPath);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/'));
      stats = undefined;
      continue;
    }
    if (pending.some((rest) => rest !== '' && rest !== '.') && !entry.isDirectory()) {
      return { kind: 'not-a-directory', at };
    }
    resolved.push(part);
    stats = entry;
  }
  const point = mounted();
  if (point) return { kind: 'mounted', at: here() };
  // The path was the root itself, or ended in `..`: its folder is the one reached.
  stats ??= await lstat(join(rootfs, ...resolved));
  return { kind: stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : 'other', stats };
}
