/**
 * What a runtime state directory may hold, and the checks that keep cleanup inside one: a root
 * given to cleanup must be an absolute folder that holds nothing but runtime state, so that a
 * mistyped `--root` (`/`, `.`, a home folder, a project folder) is refused before anything in it
 * is read as a container or removed.
 */
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import type { RuntimeFlavor } from '../runtime/args.js';
import { UnsafeStateRoot } from '../runtime/errors.js';
import { unmountAll } from '../workspace/mounts.js';

/**
 * One entry of a state root, by name:
 *  - `state` / `lock`: runsc's `<id>_sandbox:<sid>.state` and `.lock`;
 *  - `socket`: current runsc's control socket `runsc-<sid>.sock` (2023 on);
 *  - `null-netns`: current runsc's bind-mounted network namespace, shared by the root's gofers
 *    and never removed by runsc (release-20260810 on);
 *  - `container-dir`: runc's and crun's per-container folder.
 */
export type RootEntryKind = 'state' | 'lock' | 'socket' | 'null-netns' | 'container-dir';

export interface RootEntry {
  name: string;
  kind: RootEntryKind;
  /** The container (runsc: sandbox) id the entry belongs to; none for `null-netns`. */
  id?: string;
}

const stateName = /^(.+)_sandbox:(.+)\.(state|lock)$/;
const socketName = /^runsc-(.+)\.sock$/;
export const nullNetnsName = 'null-netns';

/** Reads a name as a runtime entry; undefined when it is not one (by name only). */
export function runscEntryOf(name: string): RootEntry | undefined {
  const state = stateName.exec(name);
  if (state) return { name, kind: state[3] as 'state' | 'lock', id: state[1] };
  const socket = socketName.exec(name);
  if (socket) return { name, kind: 'socket', id: socket[1] };
  if (name === nullNetnsName) return { name, kind: 'null-netns' };
  return undefined;
}

/** The files runc and crun keep per container, inside `<root>/<id>/`. */
const ociRuntimeFiles = new Set(['state.json', 'status', 'config.json', 'exec.fifo', 'notify', 'pid']);

/**
 * Checks that `root` may be cleaned as a runtime state directory of `flavor`, and returns its
 * entries. Throws `UnsafeStateRoot` naming the reason when it is not: relative, `/`, a home
 * folder, not a folder, or holding anything that is not runtime state (a nested root included:
 * cleanup never enters one). A root that does not exist has nothing to clean: no entries.
 */
export async function checkStateRoot(root: string, flavor: RuntimeFlavor): Promise<RootEntry[]> {
  const refuse = (reason: string) => new UnsafeStateRoot(root, reason);
  if (!isAbsolute(root)) throw refuse('must be an absolute path, e.g. /run/temporal-runsc');
  if (root === '/' || normalize(root) === '/') {
    throw refuse('is the file system root, not a runtime state directory');
  }
  if (normalize(root) !== root || root.endsWith('/')) {
    throw refuse(
      'must be a plain absolute path like /run/temporal-runsc (no trailing "/", ".", ".." or "//")',
    );
  }
  if ((await homeFolders()).has(root)) {
    throw refuse('is a home folder, not a runtime state directory');
  }
  const info = await lstat(root).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!info) return [];
  if (!info.isDirectory()) throw refuse('is not a folder (a symlink is not followed)');

  const entries: RootEntry[] = [];
  const foreign: string[] = [];
  for (const name of await readdir(root)) {
    const entry = flavor === 'runsc' ? runscEntryOf(name) : await ociContainerDir(root, name);
    if (entry) entries.push(entry);
    else foreign.push(name);
  }
  if (foreign.length > 0) {
    const shown =
      foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : '');
    throw refuse(
      `holds files that are not ${flavor} state (${shown}): point --root at the runtime's own state directory`,
    );
  }
  return entries;
}

/** runc/crun: a folder named like a container id holding only their per-container files. */
async function ociContainerDir(root: string, name: string): Promise<RootEntry | undefined> {
  const path = join(root, name);
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  const files = await readdir(path).catch(() => ['(unreadable)']);
  // A folder with anything else (another root's `.state` files, say) is not entered.
  if (!files.every((file) => ociRuntimeFiles.has(file))) return undefined;
  return { name, kind: 'container-dir', id: name };
}

/** `$HOME`, root's home, and every home folder `/etc/passwd` names. */
async function homeFolders(): Promise<Set<string>> {
  const homes = new Set<string>(['/root', '/home']);
  if (process.env.HOME) homes.add(normalize(process.env.HOME));
  homes.add(normalize(homedir()));
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const home = line.split(':')[5];
    if (home && home !== '/' && isAbsolute(home)) homes.add(normalize(home));
  }
  return homes;
}

/**
 * Unmounts current runsc's `null-netns` and removes the file, as runsc's own
 * specutils.UnmountNullNetNS does: `umount -l` until it is no longer a mount point (it can be
 * mounted more than once), a bounded number of times.
 */
export async function removeNullNetns(root: string): Promise<void> {
  const path = join(root, nullNetnsName);
  await unmountAll(path);
  await rm(path, { force: true });
}
