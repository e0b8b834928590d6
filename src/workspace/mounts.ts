import { readFile } from 'node:fs/promises';
import { execa } from 'execa';

// The one module that mounts, reads the mount table and unmounts (workspaces and state roots).

const timeoutMs = 10_000;

/**
 * Mounts a size-capped tmpfs at `dir` (on the host, as root): what a step writes there is
 * bounded by `bytes` whatever it does, lands in memory rather than on the worker's disk, and is
 * its own file system, so no hard link to a host file can be made into it.
 */
export async function mountTmpfs(dir: string, bytes: number): Promise<void> {
  const options = `size=${bytes},nosuid,nodev,noexec,mode=0700`;
  const result = await execa('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], {
    reject: false,
    timeout: timeoutMs,
    stdin: 'ignore',
  });
  if (result.exitCode !== 0) {
    throw new Error(
      `cannot mount a tmpfs at ${dir} for /out (${String(result.stderr).trim() || result.shortMessage}): the worker must run as root`,
    );
  }
}

/** Unmounts `dir`; lazily when it is busy. Resolves false if it is still mounted after both. */
export async function unmount(dir: string): Promise<boolean> {
  for (const args of [[dir], ['-l', dir]]) {
    if ((await umount(args)).exitCode === 0) return true;
  }
  return !(await isMountPoint(dir));
}

/**
 * Lazily unmounts everything stacked at `path` (it can be mounted more than once), at most
 * `rounds` times; throws naming the path when an unmount fails or a mount stays.
 */
export async function unmountAll(path: string, rounds = 16): Promise<void> {
  for (let round = 0; round < rounds && (await isMountPoint(path)); round++) {
    const result = await umount(['-l', path]);
    if (result.exitCode !== 0 && (await isMountPoint(path))) {
      throw new Error(
        `umount -l ${path} failed: ${String(result.stderr).trim() || `exit ${result.exitCode}`}`,
      );
    }
  }
  if (await isMountPoint(path)) throw new Error(`${path} is still mounted after ${rounds} unmounts`);
}

function umount(args: string[]) {
  return execa('umount', args, { reject: false, timeout: timeoutMs, stdin: 'ignore' });
}

/** Whether something is mounted at exactly `path` in this process's mount namespace. */
export async function isMountPoint(path: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === path);
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
